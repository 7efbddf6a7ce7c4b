/*
 * proc.h — child processes for the tools that start servers: `strand
 * cluster up` (etcd and brokers) and the tests (etcd). Spawn with output to
 * a log file, ask whether one still runs, stop one with a deadline.
 */
#ifndef STRAND_PROC_H
#define STRAND_PROC_H

#include <sys/types.h>

/*
 * Start argv[0] (looked up in PATH when it has no '/') with argv, stdin
 * from /dev/null, stdout and stderr appended to log_path. detach: the
 * child gets its own session, so it outlives the caller's terminal and
 * process group. *pid gets its id. 0, or STRAND_EIO (fork failed; an exec
 * failure shows as the child exiting with status 127, its reason in the log).
 */
int proc_spawn(char *const argv[], const char *log_path, int detach, pid_t *pid,
               char *err, size_t errlen);

/* Is pid running? A child of ours that has exited is reaped here (0). */
int proc_alive(pid_t pid);

/*
 * Send sig (a signal that ends the process: SIGTERM, SIGINT, SIGKILL) and
 * SIGCONT (a stopped process cannot act on it); if the process is still there after timeout_ms, SIGKILL it.
 * Waits (polling, 10 ms steps) until it is gone; reaps it when it is our
 * child. Returns 0 once gone, STRAND_ETIMEDOUT if even SIGKILL did not end
 * it within another second.
 */
int proc_stop(pid_t pid, int sig, int timeout_ms);

/* The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, ...), '?' if none. */
char proc_state(pid_t pid);

/*
 * After SIGSTOP: wait (polling, 5 ms steps) until the kernel reports pid
 * stopped — a stop takes effect when each of its threads next runs, which
 * on a loaded machine is not at once. 1 when stopped within within_ms, else 0.
 */
int proc_wait_stopped(pid_t pid, int within_ms);

/* Read a pid written by proc_write_pid_file; 0 when absent or malformed. */
pid_t proc_read_pid_file(const char *path);

/* Write pid to path atomically (temp file, rename). 0 or STRAND_EIO. */
int proc_write_pid_file(const char *path, pid_t pid);

#endif
