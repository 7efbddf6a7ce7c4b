/*
 * test_proc.c — proc_alive (src/common/proc.h) on a process that is not
 * our child, as `strand cluster start` and the fault harness see a broker:
 * while any thread of it is still running it is alive, even when its main
 * thread has already exited and shows 'Z' (the state of a multithreaded
 * process in the middle of dying, whose files, a broker's data directory
 * flock among them, are still open); once every thread has exited it is
 * not. Waits are on conditions with deadlines.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/proc.h"

#define DEADLINE_MS 10000

static int release_fd = -1;

/* The grandchild's second thread: runs until the test closes the pipe. */
static void *linger(void *arg)
{
	char c;

	(void)arg;
	while (read(release_fd, &c, 1) > 0)
		;
	_exit(0);     /* the process ends here, without exit handlers (sanitizers') */
}

/*
 * A grandchild (not our child: proc_alive cannot waitpid it) whose main
 * thread exits at once while a second thread lives until *release is
 * closed. Its pid comes back through a pipe.
 */
static pid_t spawn_lingering(int *release)
{
	int hold[2], report[2];
	pid_t child, pid = 0;

	ck_assert_int_eq(pipe(hold), 0);
	ck_assert_int_eq(pipe(report), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			pthread_t th;

			close(hold[1]);
			close(report[0]);
			release_fd = hold[0];
			if (pthread_create(&th, NULL, linger, NULL) != 0)
				_exit(1);
			g = getpid();
			if (write(report[1], &g, sizeof g) != (ssize_t)sizeof g)
				_exit(1);
			close(report[1]);
			pthread_exit(NULL);       /* the leader exits, the process lives on */
		}
		_exit(g > 0 ? 0 : 1);
	}
	close(hold[0]);
	close(report[1]);
	ck_assert_int_eq(read(report[0], &pid, sizeof pid), (ssize_t)sizeof pid);
	close(report[0]);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	*release = hold[1];
	return pid;
}

START_TEST(test_alive_until_the_last_thread_exits)
{
	int release;
	pid_t pid = spawn_lingering(&release);
	int64_t end = clock_now_ms() + DEADLINE_MS;

	/* the main thread has exited: the leader shows 'Z' */
	while (proc_state(pid) != 'Z' && clock_now_ms() < end)
		clock_sleep_ms(5);
	ck_assert_int_eq(proc_state(pid), 'Z');
	ck_assert_msg(proc_alive(pid), "a process with a running thread counted as dead");
	/* the last thread exits: gone (a zombie until init reaps it, or gone) */
	close(release);
	while (proc_alive(pid) && clock_now_ms() < end)
		clock_sleep_ms(5);
	ck_assert(!proc_alive(pid));
}
END_TEST

START_TEST(test_not_alive_after_sigkill)
{
	int release;
	pid_t pid = spawn_lingering(&release);
	int64_t end = clock_now_ms() + DEADLINE_MS;

	ck_assert(proc_alive(pid));
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	while (proc_alive(pid) && clock_now_ms() < end)
		clock_sleep_ms(5);
	ck_assert(!proc_alive(pid));
	close(release);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("alive");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_alive_until_the_last_thread_exits);
	tcase_add_test(tc, test_not_alive_after_sigkill);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
