/*
 * etcd_fixture.h — one private etcd per test program (tests/cluster/):
 * started in a temporary directory on ports chosen at run time before the
 * tests fork (Check's unchecked fixture), stopped and removed after.
 * A program calls etcd_fixture_start() from main and exits 77 (skip) when
 * etcd is not installed. Static inline: included by one program each.
 */
#ifndef STRAND_TESTS_ETCD_FIXTURE_H
#define STRAND_TESTS_ETCD_FIXTURE_H

#include <check.h>
#include <curl/curl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/etcd_local.h"
#include "common/err.h"
#include "common/proc.h"

static char fixture_dir[] = "/tmp/strand-etcd-XXXXXX";
static etcd_local_t fixture_etcd;

static int fixture_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(path);
}

/* 0 started, 77 no etcd binary, 99 it would not start. */
static inline int etcd_fixture_start(void)
{
	char err[512];
	int rc;

	if (!etcd_local_available()) {
		fprintf(stderr, "etcd not installed (scripts/deps.sh): skipping\n");
		return 77;
	}
	if (mkdtemp(fixture_dir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	rc = etcd_local_start(fixture_dir, 0, 20000, &fixture_etcd, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "cannot start etcd: %s\n", err);
		return 99;
	}
	return 0;
}

/*
 * Restart the etcd from a test (a forked child): kill it, start it again on
 * the same ports and data, and leave its new pid in DIR/restarted.pid for
 * etcd_fixture_stop in the parent, which still knows only the first pid.
 */
static inline int etcd_fixture_kill_and_restart(char *err, size_t errlen)
{
	char path[sizeof fixture_dir + 32];
	int rc;

	proc_stop(fixture_etcd.pid, SIGKILL, 5000);
	rc = etcd_local_restart(fixture_dir, 0, 20000, &fixture_etcd, err, errlen);
	snprintf(path, sizeof path, "%s/restarted.pid", fixture_dir);
	if (rc == 0 && proc_write_pid_file(path, fixture_etcd.pid) != 0)
		rc = STRAND_EIO;
	return rc;
}

static inline void etcd_fixture_stop(void)
{
	char path[sizeof fixture_dir + 32];
	pid_t restarted;

	if (fixture_etcd.pid > 0)
		proc_stop(fixture_etcd.pid, SIGTERM, 5000);
	fixture_etcd.pid = 0;
	snprintf(path, sizeof path, "%s/restarted.pid", fixture_dir);
	restarted = proc_read_pid_file(path);
	if (restarted > 0)
		proc_stop(restarted, SIGTERM, 5000);
	nftw(fixture_dir, fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * SIGSTOP the etcd and wait until the kernel says it is stopped: a stop
 * takes effect when each of its threads next runs, which on a loaded machine
 * is not at once, and meanwhile it still answers. 1 stopped, 0 not within 10 s.
 */
static inline int etcd_fixture_pause(void)
{
	return kill(fixture_etcd.pid, SIGSTOP) == 0 && proc_wait_stopped(fixture_etcd.pid, 10000);
}

/* Continue a SIGSTOPped etcd (a checked fixture's teardown after a pause test). */
static inline void etcd_fixture_resume(void)
{
	kill(fixture_etcd.pid, SIGCONT);
}

/*
 * A test program's main: libcurl's global state, the etcd, the suite, and
 * both stopped again. Returns the exit status: 0 all passed, 1 a failure,
 * 77/99 from etcd_fixture_start.
 */
static inline int etcd_fixture_run(Suite *suite)
{
	SRunner *sr;
	int failed, rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = etcd_fixture_start();
	if (rc != 0) {
		curl_global_cleanup();
		return rc;
	}
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	etcd_fixture_stop();
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}

#endif
