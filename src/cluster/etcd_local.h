/*
 * etcd_local.h — a private single-member etcd on loopback, for `strand
 * cluster up` and the tests: client and peer ports chosen at run time,
 * data and log under a directory of the caller's, started only once its
 * /health answers, within a deadline (no sleeping a fixed time).
 *
 * The etcd binary is $STRAND_ETCD_BIN, else `etcd` from PATH (Debian's
 * etcd-server, scripts/deps.sh).
 */
#ifndef STRAND_ETCD_LOCAL_H
#define STRAND_ETCD_LOCAL_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct etcd_local {
	pid_t pid;
	char  client_url[64];   /* "http://127.0.0.1:PORT" (https with TLS) */
	char  peer_url[64];
	char  data_dir[PATH_MAX];
	/* TLS on the client port (etcd_local_start_tls); "" when off */
	char  cert_file[PATH_MAX], key_file[PATH_MAX], ca_file[PATH_MAX];
} etcd_local_t;

/* PEM files for etcd's client port: its certificate (for 127.0.0.1) and
 * key, and the CA its health is checked against. */
typedef struct etcd_local_tls {
	const char *cert_file, *key_file, *ca_file;
} etcd_local_tls_t;

/*
 * Start etcd with its data in DIR/etcd.data and its output in DIR/etcd.log
 * (DIR must exist). detach: own session (it outlives the caller). Waits up
 * to deadline_ms for /health; ports that turn out to be taken meanwhile
 * (etcd exits) are chosen again, up to 3 times. 0, or
 *   STRAND_ENOENT     no etcd binary (tests skip on it)
 *   STRAND_ETIMEDOUT  not healthy in time (it is stopped)
 *   STRAND_EIO        it kept exiting (see DIR/etcd.log)
 */
int etcd_local_start(const char *dir, int detach, int deadline_ms, etcd_local_t *out,
                     char *err, size_t errlen);

/* etcd_local_start serving its clients over https (tls NULL: plain http,
 * as etcd_local_start). The peer port stays plain: one member, loopback. */
int etcd_local_start_tls(const char *dir, int detach, int deadline_ms,
                         const etcd_local_tls_t *tls, etcd_local_t *out,
                         char *err, size_t errlen);

/*
 * Start a stopped etcd again on the same ports and data (an etcd restart:
 * the tests' "etcd killed and restarted"). The ports may have been taken
 * meanwhile: then STRAND_EIO. 0, STRAND_EEXIST (it still runs) or as above.
 */
int etcd_local_restart(const char *dir, int detach, int deadline_ms, etcd_local_t *l,
                       char *err, size_t errlen);

/* Is the etcd binary there? 1 or 0. */
int etcd_local_available(void);

#endif
