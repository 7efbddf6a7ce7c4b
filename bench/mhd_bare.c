/*
 * mhd_bare.c — the HTTP ceiling for `make bench`: a libmicrohttpd server
 * with strand's daemon options (api/server.c: internal polling thread pool
 * of one thread per CPU, epoll, suspend/resume allowed, 64 KiB connection
 * pool, 60 s idle timeout) that reads every request body, discards it and
 * answers a small JSON document like a one-record produce answer. Whatever
 * strand does beyond this is the broker's own cost.
 *
 * usage: mhd_bare PORT_FILE   (listens on 127.0.0.1, a free port written
 * to PORT_FILE; runs until SIGTERM/SIGINT)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

static const char answer[] = "{\"offsets\":[{\"partition\":0,\"offset\":0}]}";

static enum MHD_Result bare_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
	static int marker;
	struct MHD_Response *resp;
	enum MHD_Result ok;

	(void)cls; (void)url; (void)method; (void)version; (void)upload_data;
	if (*con_cls == NULL) {
		*con_cls = &marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;   /* body consumed and dropped */
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(sizeof answer - 1, (void *)answer,
	                                       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ok = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ok;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	sigset_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f;
	int sig;

	if (argc != 2) {
		fprintf(stderr, "usage: mhd_bare PORT_FILE\n");
		return 2;
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	                     0, NULL, NULL, bare_handler, NULL,
	                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	                     MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(ncpu > 0 ? ncpu : 1),
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
	                     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mhd_bare: cannot start the daemon\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	f = fopen(argv[1], "w");
	if (info == NULL || f == NULL) {
		MHD_stop_daemon(d);
		return 1;
	}
	fprintf(f, "%u\n", (unsigned)info->port);
	fclose(f);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
