/*
 * auth.c — bearer-token authentication and ACL checks at the HTTP edge
 * (issue 11). The rules themselves live in src/broker/acl.c; this file
 * decides what each route asks for, reads the token from the request and
 * answers 401 UNAUTHORIZED / 403 FORBIDDEN.
 *
 * What a route needs (Kafka's operations, simplified; docs/SECURITY.md):
 *   produce                                  write    topic {topic}
 *   fetch, list offsets                      read     topic {topic}
 *   other GETs on /v1/topics/{topic}...      describe topic {topic}
 *   other methods on /v1/topics/{topic}...   admin    topic {topic}
 *   group members (join, heartbeat, leave,
 *   member fetch), offset commits            read     group {group}
 *   other GETs on /v1/groups/{group}...      describe group {group}
 *   other methods on /v1/groups/{group}...   admin    group {group}
 *   POST /v1/producers                       write    cluster
 *   /v1/internal/... (broker to broker)      cluster_action cluster
 *   other GETs under /v1/ (lists, cluster)   describe cluster
 *   other methods under /v1/ (create topic)  admin    cluster
 *   /metrics                                 describe cluster, or open (metrics_open)
 *   /healthz, /readyz, /openapi.yaml, the dashboard and other GETs
 *   outside /v1/                             open
 * Deriving from the pattern means a route added later gets the strict
 * reading of its shape rather than none.
 *
 * The token comes from `Authorization: Bearer TOKEN` or, for clients that
 * cannot set headers (the browser's EventSource), the `access_token` query
 * parameter (RFC 6750 §2.3).
 *
 * A request another broker relays (api/forward.c) carries that broker's
 * own token and, in `Strand-Principal`, the principal the relay
 * authenticated its client as (Kafka's KIP-590 Envelope: the forwarding
 * broker authenticates, the request keeps its client's identity). The
 * header is believed only from a principal holding cluster_action on the
 * cluster, and only for a principal this broker has a token for; then
 * every check of the request is made for the client's principal, never
 * the relay's, so a relay cannot give a client rights it lacks.
 */
#include "api/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

typedef struct auth_need {
	int            open;      /* no token needed */
	acl_op_t       op;
	acl_resource_t type;
	const char    *name;      /* resource name (topic, group); NULL for cluster */
} auth_need_t;

static int pattern_under(const char *pattern, const char *prefix)
{
	return strncmp(pattern, prefix, strlen(prefix)) == 0;
}

static void auth_need_of(const api_t *api, const api_request_t *req, auth_need_t *n)
{
	const api_route_t *rt = req->route;
	const char *pat = rt->pattern;
	int get = rt->method == API_GET;

	memset(n, 0, sizeof *n);
	if (strcmp(pat, "/metrics") == 0) {
		n->open = !api->opts.metrics_require_auth;
		n->op = ACL_DESCRIBE;
		n->type = ACL_CLUSTER;
		return;
	}
	if (pattern_under(pat, "/v1/internal/")) {
		n->op = ACL_CLUSTER_ACTION;    /* Kafka: follower Fetch, OffsetForLeaderEpoch */
		n->type = ACL_CLUSTER;
		return;
	}
	if (!pattern_under(pat, "/v1/")) {
		n->open = get;              /* health, readiness, the contract, the pages */
		n->op = get ? ACL_DESCRIBE : ACL_ADMIN;
		n->type = ACL_CLUSTER;
		return;
	}
	if (pattern_under(pat, "/v1/topics/{topic}")) {
		n->type = ACL_TOPIC;
		n->name = req->topic;
		if (strcmp(rt->name, "produce") == 0 || strcmp(rt->name, "produce_partition") == 0)
			n->op = ACL_WRITE;
		else if (strcmp(rt->name, "fetch") == 0 || strcmp(rt->name, "list_offsets") == 0)
			n->op = ACL_READ;
		else
			n->op = get ? ACL_DESCRIBE : ACL_ADMIN;
		return;
	}
	if (pattern_under(pat, "/v1/groups/{group}")) {
		n->type = ACL_GROUP;
		n->name = req->group;
		if (pattern_under(pat, "/v1/groups/{group}/members") ||
		    strcmp(rt->name, "offsets_commit") == 0)
			n->op = ACL_READ;
		else
			n->op = get ? ACL_DESCRIBE : ACL_ADMIN;
		return;
	}
	n->type = ACL_CLUSTER;
	if (strcmp(pat, "/v1/producers") == 0)
		n->op = ACL_WRITE;
	else
		n->op = get ? ACL_DESCRIBE : ACL_ADMIN;
}

static const char *op_word(acl_op_t op)
{
	switch (op) {
	case ACL_READ:     return "read";
	case ACL_WRITE:    return "write";
	case ACL_DESCRIBE: return "describe";
	case ACL_CLUSTER_ACTION: return "cluster_action";
	default:           return "admin";
	}
}

static const char *type_word(acl_resource_t t)
{
	return t == ACL_TOPIC ? "topic" : t == ACL_GROUP ? "group" : "cluster";
}

/* The request's bearer token, or NULL (*len set). */
static const char *auth_token_of(api_request_t *req, size_t *len)
{
	const char *h = api_header(req, "Authorization");
	const char *t;

	if (h != NULL) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return NULL;
		for (t = h + 7; *t == ' '; t++)
			;
		*len = strlen(t);
		while (*len > 0 && t[*len - 1] == ' ')
			(*len)--;
		return *len > 0 ? t : NULL;
	}
	t = api_query(req, "access_token");
	if (t != NULL && *t != '\0') {
		*len = strlen(t);
		return t;
	}
	return NULL;
}

/*
 * A relayed request's client (Strand-Principal, see the top): replace
 * *principal (the relaying broker) with it, or answer 403/401 and return
 * -1. No header: nothing to do. Called with acl_lock held.
 */
static int auth_on_behalf(api_request_t *req, const acl_t *acl, const char **principal)
{
	const char *client = api_header(req, "Strand-Principal");
	char detail[400];

	if (client == NULL)
		return 0;
	if (!acl_allows(acl, *principal, ACL_CLUSTER_ACTION, ACL_CLUSTER, NULL)) {
		snprintf(detail, sizeof detail, "%s may not act for another principal "
		         "(Strand-Principal needs cluster_action on the cluster: brokers only)",
		         *principal);
		api_respond_problem(req, 403, API_PROBLEM_FORBIDDEN, detail, NULL);
		return -1;
	}
	if (!acl_knows_principal(acl, client)) {
		snprintf(detail, sizeof detail, "the relayed principal %.*s has no token on this "
		         "broker (are the brokers' --auth-file the same?)", ACL_MAX_PRINCIPAL, client);
		api_add_header(req, "WWW-Authenticate", "Bearer realm=\"strand\"");
		api_respond_problem(req, 401, API_PROBLEM_UNAUTHORIZED, detail, NULL);
		return -1;
	}
	*principal = client;
	return 0;
}

int api_auth_check(api_request_t *req)
{
	api_t *api = req->api;
	auth_need_t need;
	const char *token, *principal;
	char detail[400];
	size_t len = 0;
	int allowed;

	pthread_rwlock_rdlock(&api->acl_lock);
	if (api->acl == NULL) {
		pthread_rwlock_unlock(&api->acl_lock);
		return 0;                    /* no --auth-file: open */
	}
	auth_need_of(api, req, &need);
	if (need.open) {
		pthread_rwlock_unlock(&api->acl_lock);
		return 0;
	}
	token = auth_token_of(req, &len);
	principal = token != NULL ? acl_authenticate(api->acl, token, len) : NULL;
	if (principal == NULL) {
		pthread_rwlock_unlock(&api->acl_lock);
		api_add_header(req, "WWW-Authenticate", token != NULL ?
		               "Bearer realm=\"strand\", error=\"invalid_token\"" :
		               "Bearer realm=\"strand\"");
		api_respond_problem(req, 401, API_PROBLEM_UNAUTHORIZED,
		                    token != NULL ? "the bearer token is not valid" :
		                    "this broker needs `Authorization: Bearer TOKEN`", NULL);
		return -1;
	}
	if (auth_on_behalf(req, api->acl, &principal) != 0) {
		pthread_rwlock_unlock(&api->acl_lock);
		return -1;
	}
	snprintf(req->principal, sizeof req->principal, "%s", principal);
	allowed = acl_allows(api->acl, principal, need.op, need.type, need.name);
	if (!allowed)
		snprintf(detail, sizeof detail, "%s may not %s %s%s%s", principal, op_word(need.op),
		         type_word(need.type), need.name ? " " : "", need.name ? need.name : "");
	pthread_rwlock_unlock(&api->acl_lock);
	if (!allowed) {
		api_respond_problem(req, 403, API_PROBLEM_FORBIDDEN, detail, NULL);
		return -1;
	}
	return 0;
}

int api_auth_require(api_request_t *req, acl_op_t op, acl_resource_t type, const char *name)
{
	api_t *api = req->api;
	char detail[400];
	int allowed;

	pthread_rwlock_rdlock(&api->acl_lock);
	allowed = api->acl == NULL ||       /* authentication off */
	          (req->principal[0] != '\0' &&  /* "": it was off when the request came */
	           acl_allows(api->acl, req->principal, op, type, name));
	pthread_rwlock_unlock(&api->acl_lock);
	if (allowed)
		return 0;
	snprintf(detail, sizeof detail, "%s may not %s %s%s%s", req->principal, op_word(op),
	         type_word(type), name ? " " : "", name ? name : "");
	api_respond_problem(req, 403, API_PROBLEM_FORBIDDEN, detail, NULL);
	return STRAND_EINVAL;
}

int api_set_peer_token(api_t *api, const char *token)
{
	char *copy, *old;

	if (token == NULL)
		return STRAND_EINVAL;
	if ((copy = strdup(token)) == NULL)
		return STRAND_ENOMEM;
	pthread_rwlock_wrlock(&api->acl_lock);
	old = api->peer_token;
	api->peer_token = copy;
	pthread_rwlock_unlock(&api->acl_lock);
	if (old != NULL)
		explicit_bzero(old, strlen(old));   /* readers copy it under the lock */
	free(old);
	return 0;
}

int api_has_peer_token(api_t *api)
{
	int has;

	pthread_rwlock_rdlock(&api->acl_lock);
	has = api->peer_token != NULL;
	pthread_rwlock_unlock(&api->acl_lock);
	return has;
}

int api_peer_token_header(api_t *api, buf_t *out)
{
	int rc = 0;

	pthread_rwlock_rdlock(&api->acl_lock);
	if (api->peer_token != NULL)
		rc = buf_appendf(out, "Authorization: Bearer %s", api->peer_token) != 0
		     ? STRAND_ENOMEM : 1;
	pthread_rwlock_unlock(&api->acl_lock);
	return rc;
}

int api_set_acl(api_t *api, acl_t *acl)
{
	acl_t *old;

	pthread_rwlock_wrlock(&api->acl_lock);
	old = api->acl;
	api->acl = acl;
	pthread_rwlock_unlock(&api->acl_lock);
	acl_free(old);   /* no reader holds it: readers keep the lock while they use it */
	return 0;
}
