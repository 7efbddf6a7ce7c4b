/*
 * flusher.c — the group-commit flusher behind acks=all (see flusher.h).
 */
#include "api/flusher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "log/log.h"

#define FLUSHER_ROUND_MAX 64   /* distinct partitions taken per round */

struct flusher {
	broker_t        *broker;
	parking_t       *pk;
	pthread_mutex_t  lock;     /* guards the queue and stop */
	pthread_cond_t   cond;
	flusher_node_t  *head, *tail;
	int              stop;
	pthread_t        thread;
};

typedef struct flusher_target {
	char    topic[256];
	int32_t partition;
} flusher_target_t;

/* Flush one partition and wake its waiters. No flusher lock held. */
static void flusher_flush_one(flusher_t *fl, const flusher_target_t *t)
{
	topic_t *topic = broker_topic_get(fl->broker, t->topic);
	int64_t flushed = INT64_MAX;   /* failure: wake everyone; they see it */
	char err[256];
	log_t *log;

	if (topic != NULL) {
		log = topic_partition_log(topic, t->partition);
		if (log != NULL && log_flush(log, -1, err, sizeof err) == 0)
			flushed = log_flushed_offset(log);
		else if (log != NULL)
			fprintf(stderr, "strand: flush of %s-%d failed: %s\n", t->topic,
			        (int)t->partition, err);
		topic_release(topic);
	}
	parking_notify(fl->pk, t->topic, t->partition, flushed);
}

static void flusher_unlink(flusher_t *fl, flusher_node_t *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		fl->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		fl->tail = n->prev;
	n->prev = n->next = NULL;
	n->queued = 0;
}

static void *flusher_main(void *arg)
{
	flusher_t *fl = arg;
	flusher_target_t round[FLUSHER_ROUND_MAX];
	int n, i;

	pthread_mutex_lock(&fl->lock);
	for (;;) {
		while (fl->head == NULL && !fl->stop)
			pthread_cond_wait(&fl->cond, &fl->lock);
		if (fl->stop)
			break;
		/* take the queue: each distinct partition once */
		n = 0;
		while (fl->head != NULL && n < FLUSHER_ROUND_MAX) {
			flusher_node_t *node = fl->head;

			for (i = 0; i < n; i++)
				if (round[i].partition == node->partition &&
				    strcmp(round[i].topic, node->topic) == 0)
					break;
			if (i == n) {
				snprintf(round[n].topic, sizeof round[n].topic, "%s", node->topic);
				round[n].partition = node->partition;
				n++;
			}
			flusher_unlink(fl, node);
		}
		pthread_mutex_unlock(&fl->lock);
		for (i = 0; i < n; i++)
			flusher_flush_one(fl, &round[i]);
		pthread_mutex_lock(&fl->lock);
	}
	pthread_mutex_unlock(&fl->lock);
	return NULL;
}

int flusher_new(broker_t *b, flusher_t **out, char *err, size_t errlen)
{
	flusher_t *fl = calloc(1, sizeof *fl);
	int rc;

	*out = NULL;
	if (fl == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	fl->broker = b;
	rc = parking_new(&fl->pk, err, errlen);
	if (rc) {
		free(fl);
		return rc;
	}
	pthread_mutex_init(&fl->lock, NULL);
	pthread_cond_init(&fl->cond, NULL);
	if (pthread_create(&fl->thread, NULL, flusher_main, fl) != 0) {
		parking_free(fl->pk);
		pthread_mutex_destroy(&fl->lock);
		pthread_cond_destroy(&fl->cond);
		free(fl);
		return strand_err_set(err, errlen, STRAND_EIO, "cannot start the flusher thread");
	}
	*out = fl;
	return 0;
}

void flusher_free(flusher_t *fl)
{
	if (fl == NULL)
		return;
	pthread_mutex_lock(&fl->lock);
	fl->stop = 1;
	pthread_cond_signal(&fl->cond);
	pthread_mutex_unlock(&fl->lock);
	pthread_join(fl->thread, NULL);
	parking_free(fl->pk);
	pthread_mutex_destroy(&fl->lock);
	pthread_cond_destroy(&fl->cond);
	free(fl);
}

parking_t *flusher_parking(flusher_t *fl)
{
	return fl->pk;
}

void flusher_request(flusher_t *fl, flusher_node_t *n, const char *topic, int32_t partition)
{
	pthread_mutex_lock(&fl->lock);
	n->topic = topic;
	n->partition = partition;
	if (!n->queued) {
		n->queued = 1;
		n->next = NULL;
		n->prev = fl->tail;
		if (fl->tail)
			fl->tail->next = n;
		else
			fl->head = n;
		fl->tail = n;
		pthread_cond_signal(&fl->cond);
	}
	pthread_mutex_unlock(&fl->lock);
}

void flusher_cancel(flusher_t *fl, flusher_node_t *n)
{
	pthread_mutex_lock(&fl->lock);
	if (n->queued)
		flusher_unlink(fl, n);
	pthread_mutex_unlock(&fl->lock);
}
