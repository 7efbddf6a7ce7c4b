/*
 * parking_api.c — the HTTP edge's waiter registries (handlers.h:
 * api_parking_init/wake_all/free): the long-poll registry, fed by the
 * broker's append hook and the group coordinator's change hook (a group's
 * version plays the part of a high watermark under the group's key), and
 * the broker's progress hook (a leader's LEO, HW or role moved: followers'
 * long polls, api/internal.c, wait under "replica:<topic>"), and
 * the acks=all flusher with its own registry (api/flusher.h); created at
 * api_start, emptied at shutdown. Kept apart from parking.c so
 * the registry itself links and tests without the server.
 */
#include <stdint.h>
#include <stdio.h>

#include "api/flusher.h"
#include "api/handlers.h"
#include "api/http.h"
#include "api/parking.h"
#include "broker/replica.h"

/* The broker's append hook: appending thread, no broker lock held. */
static void parking_on_append(void *ctx, const char *topic, int32_t partition, int64_t hw)
{
	parking_notify(ctx, topic, partition, hw);
}

void api_group_wait_key(const char *group, char *out, size_t cap)
{
	snprintf(out, cap, "group:%s", group);
}

void api_replica_wait_key(const char *topic, char *out, size_t cap)
{
	snprintf(out, cap, "replica:%s", topic);
}

/* The broker's progress hook (replica.h): wake every follower fetch parked
 * on the partition; each re-checks what it has to say. No broker lock held. */
static void parking_on_progress(void *ctx, const char *topic, int32_t partition)
{
	char key[300];

	api_replica_wait_key(topic, key, sizeof key);
	parking_notify(ctx, key, partition, INT64_MAX);
}

/* The coordinator's change hook: the changing thread, no coordinator lock held. */
static void parking_on_group_change(void *ctx, const char *group, uint64_t version)
{
	char key[300];

	api_group_wait_key(group, key, sizeof key);
	parking_notify(ctx, key, 0, (int64_t)version);
}

int api_parking_init(api_t *api, char *err, size_t errlen)
{
	parking_t *pk;
	flusher_t *fl;
	int rc = parking_new(&pk, err, errlen);

	if (rc)
		return rc;
	rc = flusher_new(api_broker(api), &fl, err, errlen);
	if (rc) {
		parking_free(pk);
		return rc;
	}
	api_set_parking_state(api, pk);
	api_set_flush_state(api, fl);
	broker_set_append_hook(api_broker(api), parking_on_append, pk);
	group_coord_set_hook(broker_groups(api_broker(api)), parking_on_group_change, pk);
	broker_set_progress_hook(api_broker(api), parking_on_progress, pk);
	return 0;
}

void api_parking_wake_all(api_t *api)
{
	parking_t *pk = api_parking_state(api);
	flusher_t *fl = api_flush_state(api);

	if (pk != NULL)
		parking_wake_all(pk);
	if (fl != NULL)
		parking_wake_all(flusher_parking(fl));
}

void api_parking_free(api_t *api)
{
	parking_t *pk = api_parking_state(api);

	if (pk == NULL)
		return;
	broker_set_append_hook(api_broker(api), NULL, NULL);
	group_coord_set_hook(broker_groups(api_broker(api)), NULL, NULL);
	broker_set_progress_hook(api_broker(api), NULL, NULL);
	api_set_parking_state(api, NULL);
	parking_free(pk);
	flusher_free(api_flush_state(api));
	api_set_flush_state(api, NULL);
}
