/*
 * proc.c — spawning and stopping helper processes (proc.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/proc.h"

int proc_spawn(char *const argv[], const char *log_path, int detach, pid_t *pid,
               char *err, size_t errlen)
{
	pid_t child;
	int fd, nul;

	fflush(NULL);
	child = fork();
	if (child < 0)
		return strand_err_set(err, errlen, STRAND_EIO, "fork: %s", strerror(errno));
	if (child == 0) {
		if (detach)
			(void)setsid();
		nul = open("/dev/null", O_RDONLY);
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (nul >= 0)
			dup2(nul, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* the caller may have blocked signals for sigwait: the child starts clean */
		{
			sigset_t none;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGPIPE, SIG_DFL);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	*pid = child;
	return 0;
}

/* The state letter of a /proc stat file ('R', 'S', 'Z', ...): '?' when it
 * does not parse, '\0' when it cannot be opened (the task is gone). */
static char stat_state(const char *path)
{
	char buf[512], *p;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return '\0';
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');     /* the command name may hold spaces */
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/* An exited process whose parent has not reaped it yet (a container's
 * pid 1 may never do so) still answers kill(pid, 0): look at its state.
 * Is the task whose stat file is path a zombie ('Z'), dead ('X') or gone? */
static int proc_task_dead(const char *path)
{
	char s = stat_state(path);

	return s == '\0' || s == 'Z' || s == 'X';
}

/*
 * A zombie: every thread of pid has exited. The main thread alone is not
 * enough: after SIGKILL (or pthread_exit) the thread group leader shows
 * 'Z' while its other threads are still exiting, and until the last one
 * has, the process's files (a broker's flock on its data directory) stay
 * open; a broker started again on that directory then found it locked.
 */
static int proc_is_zombie(pid_t pid)
{
	char path[96];
	struct dirent *e;
	DIR *d;
	int zombie;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (!proc_task_dead(path))
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
	d = opendir(path);
	if (d == NULL)
		return 1;
	zombie = 1;
	while (zombie && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%ld/task/%.20s/stat", (long)pid, e->d_name);
		zombie = proc_task_dead(path);
	}
	closedir(d);
	return zombie;
}

char proc_state(pid_t pid)
{
	char path[64], s;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	s = stat_state(path);
	return s == '\0' ? '?' : s;
}

int proc_wait_stopped(pid_t pid, int within_ms)
{
	struct timespec step = { 0, 5 * 1000000L }, now;
	int64_t deadline, t;
	char s;

	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + within_ms;
	for (;;) {
		s = proc_state(pid);
		if (s == 'T' || s == 't')
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		t = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
		if (t >= deadline)
			return 0;
		nanosleep(&step, NULL);
	}
}

int proc_alive(pid_t pid)
{
	pid_t r;

	if (pid <= 0)
		return 0;
	r = waitpid(pid, NULL, WNOHANG);
	if (r == pid)
		return 0;        /* our child, exited just now: reaped */
	if (r == 0)
		return 1;        /* our child, running */
	/* not our child (ECHILD): is the id still in use, by a live process? */
	if (kill(pid, 0) != 0 && errno != EPERM)
		return 0;
	return !proc_is_zombie(pid);
}

static void proc_nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until pid is gone or waited_ms reaches limit_ms. 1: gone. */
static int proc_wait_gone(pid_t pid, int limit_ms)
{
	int waited;

	for (waited = 0; waited <= limit_ms; waited += 10) {
		if (!proc_alive(pid))
			return 1;
		proc_nap_ms(10);
	}
	return 0;
}

int proc_stop(pid_t pid, int sig, int timeout_ms)
{
	if (pid <= 0 || !proc_alive(pid))
		return 0;
	if (kill(pid, sig) != 0 && errno == ESRCH)
		return 0;
	/* a stopped process cannot act on SIGTERM */
	if (sig != SIGKILL)
		(void)kill(pid, SIGCONT);
	if (proc_wait_gone(pid, timeout_ms))
		return 0;
	(void)kill(pid, SIGKILL);
	return proc_wait_gone(pid, 1000) ? 0 : STRAND_ETIMEDOUT;
}

pid_t proc_read_pid_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &v) != 1 || v <= 0 || v > INT_MAX)
		v = 0;
	fclose(f);
	return (pid_t)v;
}

int proc_write_pid_file(const char *path, pid_t pid)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return STRAND_EIO;
	f = fopen(tmp, "w");
	if (f == NULL)
		return STRAND_EIO;
	fprintf(f, "%ld\n", (long)pid);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return STRAND_EIO;
	}
	return 0;
}
