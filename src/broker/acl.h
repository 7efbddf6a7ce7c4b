/*
 * acl.h — who may do what: bearer tokens naming principals, and Kafka-style
 * ACL rules over topics, groups and the cluster (issue 11; Kafka's
 * AclAuthorizer, simplified to four operations).
 *
 * The token file (--auth-file) has one `TOKEN PRINCIPAL` per line; the ACL
 * file (--acl-file) one `PRINCIPAL OPERATION RESOURCE_TYPE PATTERN` per
 * line, e.g. `alice write topic orders*`. Blank lines and lines starting
 * with `#` are ignored. Fields are separated by spaces or tabs.
 *   PRINCIPAL      a name from the token file, or `*` (any authenticated one)
 *   OPERATION      read | write | describe | admin | cluster_action
 *   RESOURCE_TYPE  topic | group | cluster
 *   PATTERN        a name; ending in `*` it is a prefix (`*` alone: all)
 * Implied operations, as Kafka's: read and write imply describe; admin
 * implies read, write and describe on the resources it names.
 * cluster_action is Kafka's ClusterAction: what brokers do to each other
 * (replica fetch, epoch_end, speaking for a client they relay; KIP-590's
 * Envelope needs it too). It exists only on the cluster, implies nothing,
 * and unlike Kafka's All, admin does not imply it: an administrator's
 * token must not read every topic through the replica endpoints nor
 * act in another principal's name.
 *
 * Semantics: with no ACL file, every authenticated principal may do
 * everything (authentication only). With one, a request is allowed only
 * when a rule grants it: no rule, no access (Kafka's default
 * allow.everyone.if.no.acl.found=false). There are no deny rules.
 *
 * An acl_t is immutable once loaded: any number of threads may read it.
 * Reloading (SIGHUP) loads a new one and swaps it in (the HTTP edge does).
 */
#ifndef STRAND_BROKER_ACL_H
#define STRAND_BROKER_ACL_H

#include <stddef.h>

typedef struct acl acl_t;

typedef enum acl_op {
	ACL_READ     = 1 << 0,
	ACL_WRITE    = 1 << 1,
	ACL_DESCRIBE = 1 << 2,
	ACL_ADMIN    = 1 << 3,
	ACL_CLUSTER_ACTION = 1 << 4,   /* broker to broker (see above) */
} acl_op_t;

typedef enum acl_resource {
	ACL_TOPIC = 0,
	ACL_GROUP,
	ACL_CLUSTER,
} acl_resource_t;

/* Limits, named: longer lines, tokens or names are refused at load. */
#define ACL_MAX_LINE      1024
#define ACL_MAX_TOKEN     512
#define ACL_MAX_PRINCIPAL 249
#define ACL_MIN_TOKEN     16     /* shorter tokens are guessable: refused */

/*
 * Load the token file (required) and the ACL file (NULL: authentication
 * only). *out gets the new set; free with acl_free.
 * Returns 0, STRAND_EIO (a file cannot be read), STRAND_EINVAL (a bad line:
 * the message names the file and line), STRAND_ENOMEM.
 */
int acl_load(const char *auth_path, const char *acl_path, acl_t **out,
             char *err, size_t errlen);

void acl_free(acl_t *acl);

/*
 * The principal a bearer token stands for, or NULL for an unknown token.
 * The comparison takes the same time whatever prefix matches. The string
 * is borrowed from acl (valid until acl_free).
 */
const char *acl_authenticate(const acl_t *acl, const char *token, size_t token_len);

/* Does principal hold op on (type, name)? name is ignored for ACL_CLUSTER. */
int acl_allows(const acl_t *acl, const char *principal, acl_op_t op, acl_resource_t type,
               const char *name);

/* Does some token of acl stand for principal? (A relayed request names
 * its client's principal: the leader takes only one it knows.) */
int acl_knows_principal(const acl_t *acl, const char *principal);

/* Counts, for the start log line. */
size_t acl_token_count(const acl_t *acl);
size_t acl_rule_count(const acl_t *acl);
int    acl_enforced(const acl_t *acl);   /* an ACL file was given */

#endif
