/*
 * parking_api.c — the HTTP edge's one waiter registry (handlers.h:
 * api_parking_init/wake_all/free): created at api_start, fed by the
 * broker's append hook, emptied at shutdown. Kept apart from parking.c so
 * the registry itself links and tests without the server.
 */
#include "api/handlers.h"
#include "api/http.h"
#include "api/parking.h"

/* The broker's append hook: appending thread, no broker lock held. */
static void parking_on_append(void *ctx, const char *topic, int32_t partition, int64_t hw)
{
	parking_notify(ctx, topic, partition, hw);
}

int api_parking_init(api_t *api, char *err, size_t errlen)
{
	parking_t *pk;
	int rc = parking_new(&pk, err, errlen);

	if (rc)
		return rc;
	api_set_parking_state(api, pk);
	broker_set_append_hook(api_broker(api), parking_on_append, pk);
	return 0;
}

void api_parking_wake_all(api_t *api)
{
	parking_t *pk = api_parking_state(api);

	if (pk != NULL)
		parking_wake_all(pk);
}

void api_parking_free(api_t *api)
{
	parking_t *pk = api_parking_state(api);

	if (pk == NULL)
		return;
	broker_set_append_hook(api_broker(api), NULL, NULL);
	api_set_parking_state(api, NULL);
	parking_free(pk);
}
