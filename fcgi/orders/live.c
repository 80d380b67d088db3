/*
 * Live views (API.md, GET /live/orders): every order event orders has
 * followed is posted to the internal listener, which hands it to the live
 * server; that publishes it on the staff's channel ("orders") and on the
 * owner's ("orders-u-<user id>"), which /live/orders streams to the
 * dashboard as Server-Sent Events.  Best effort: a live view that misses one
 * reloads the order; the event itself is never failed for it.
 *
 * The consumer does not wait for the post.  order_live() queues the event and
 * a poster thread of this process posts what is queued, up to LIVE_POST_MAX
 * events and LIVE_POST_BYTES in one POST (nginx/live.js takes a JSON array of
 * {"user", "event"}).  Measured (docs/performance.md, "Live posts off the
 * consumer's way"): one post an event, made by the consumer itself, held
 * orders' consumers to about 110 events a second each in a burst of paid
 * orders.  Posts start at most every LIVE_POST_GAP_MS: a post is a request
 * to the main nginx and one to the live server whatever it carries, and with
 * one post as soon as each event came, 200 payments a second made about one
 * post an event (docs/performance.md, "Posts to the live server").  An event
 * that comes after a quiet moment is posted at once; one that comes sooner
 * waits at most the gap, with the others that came meanwhile.  A queue that
 * is full (the live server away for long) drops its oldest event: the views
 * keep the newest version anyway.
 *
 * Processes follow the stream in parallel, so two events of one order may be
 * published in either order.  Each carries the order as it is once the event
 * was followed (data.status, data.version): a view keeps the highest version
 * it has seen, and an order on screen never goes back a step.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "log.h"
#include "now.h"
#include "orders.h"

#define LIVE_QUEUE_MAX   4096         /* events waiting for the poster */
#define LIVE_POST_MAX    64           /* events in one post (live.js takes as many) */
#define LIVE_POST_BYTES  (192 * 1024) /* a post's body (nginx takes 256k) */
#define LIVE_POST_GAP_MS 20           /* from one post's start to the next's, at least */

struct live_item {
	char *text; /* {"user": ..., "event": ...} as JSON, malloc()ed */
	size_t len;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cond = PTHREAD_COND_INITIALIZER;
static struct live_item live_queue[LIVE_QUEUE_MAX]; /* a ring: live_head, live_count */
static size_t live_head, live_count;
static unsigned long live_dropped; /* since the last post, for its log line */
static bool live_stop, live_started;
static pthread_t live_thread;

/* The queue's item for event (new) and the order (borrowed, may be NULL); NULL on no memory. */
static char *
live_item_text(json_t *event, const json_t *order)
{
	json_t *data = json_object_get(event, "data");
	const char *user = json_string_value(json_object_get(data, "user_id"));
	json_t *item;
	char *text;

	if (json_is_object(data) && order != NULL) {
		json_object_set(data, "status", json_object_get(order, "status"));
		json_object_set(data, "version", json_object_get(order, "version"));
		if (user == NULL)
			user = json_string_value(json_object_get(order, "user_id"));
	}
	/* An order of a customer without a user: the staff's channel only. */
	item = user != NULL ? json_pack("{s:s, s:O}", "user", user, "event", event)
	                    : json_pack("{s:O}", "event", event);
	text = item != NULL ? json_dumps(item, JSON_COMPACT) : NULL;
	json_decref(item);
	return text;
}

void
order_live(const json_t *event_in, const json_t *order)
{
	json_t *event = json_deep_copy(event_in);
	char *text = event != NULL ? live_item_text(event, order) : NULL;

	json_decref(event);
	if (text == NULL)
		return;
	pthread_mutex_lock(&live_lock);
	if (!live_started) { /* no poster (a test's process): dropped, as a full queue's */
		pthread_mutex_unlock(&live_lock);
		free(text);
		return;
	}
	if (live_count == LIVE_QUEUE_MAX) { /* the oldest goes: views keep the newest anyway */
		free(live_queue[live_head].text);
		live_head = (live_head + 1) % LIVE_QUEUE_MAX;
		live_count--;
		live_dropped++;
	}
	live_queue[(live_head + live_count) % LIVE_QUEUE_MAX] =
	        (struct live_item){ text, strlen(text) };
	live_count++;
	pthread_cond_signal(&live_cond);
	pthread_mutex_unlock(&live_lock);
}

/*
 * Take the queue's head into body (a JSON array of at most LIVE_POST_MAX items and
 * LIVE_POST_BYTES): the number taken.  Called with live_lock.  An item that could never
 * fit a post (none does: an event is far smaller) is dropped and counted as such.
 */
static size_t
live_take(char *body, size_t *len)
{
	size_t n = 0;

	*len = 0;
	body[(*len)++] = '[';
	while (live_count > 0 && n < LIVE_POST_MAX) {
		struct live_item *it = &live_queue[live_head];

		if (*len + it->len + 2 > LIVE_POST_BYTES) {
			if (n > 0)
				break; /* the next post's */
			live_dropped++;
		} else {
			if (n > 0)
				body[(*len)++] = ',';
			memcpy(body + *len, it->text, it->len);
			*len += it->len;
			n++;
		}
		free(it->text);
		live_head = (live_head + 1) % LIVE_QUEUE_MAX;
		live_count--;
	}
	body[(*len)++] = ']';
	body[*len] = '\0';
	return n;
}

/* Wait, without live_lock, until LIVE_POST_GAP_MS after the last post started (at last_us),
 * unless the process is stopping: what comes meanwhile rides in the same post. */
static void
live_gap(long long last_us)
{
	long long wait_us = last_us + LIVE_POST_GAP_MS * 1000LL - gl_now_us();
	bool stopping;

	pthread_mutex_lock(&live_lock);
	stopping = live_stop;
	pthread_mutex_unlock(&live_lock);
	if (wait_us > 0 && !stopping) {
		struct timespec pause = { 0, (long)wait_us * 1000 };
		nanosleep(&pause, NULL);
	}
}

static void *
live_poster(void *arg)
{
	char *body = arg; /* LIVE_POST_BYTES + 1, ours */
	long long last_us = 0;

	for (;;) {
		unsigned long dropped;
		size_t n, len;
		long status = 0;

		pthread_mutex_lock(&live_lock);
		while (!live_stop && live_count == 0)
			pthread_cond_wait(&live_cond, &live_lock);
		if (live_count == 0) { /* stopping, and nothing is left */
			pthread_mutex_unlock(&live_lock);
			break;
		}
		pthread_mutex_unlock(&live_lock);
		live_gap(last_us);
		last_us = gl_now_us();
		pthread_mutex_lock(&live_lock);
		n = live_take(body, &len);
		dropped = live_dropped;
		live_dropped = 0;
		pthread_mutex_unlock(&live_lock);
		if (dropped > 0)
			gl_log(GL_LOG_WARN, NULL,
			       "live: %lu events not published (the queue was full)", dropped);
		if (n > 0 && (gl_http_post_text(NULL, "/.galley/live/orders", body, &status,
		                                NULL) != GL_OK ||
		              status >= 300))
			gl_log(GL_LOG_WARN, NULL, "live: %zu events not published (%ld)", n,
			       status);
	}
	free(body);
	gl_app_thread_end();
	return NULL;
}

int
orders_live_start(void)
{
	char *body = malloc(LIVE_POST_BYTES + 1);
	int rc;

	if (body == NULL)
		return -1;
	pthread_mutex_lock(&live_lock);
	rc = gl_app_thread_start(&live_thread, live_poster, body);
	live_started = rc == 0;
	pthread_mutex_unlock(&live_lock);
	if (rc != 0) {
		free(body);
		gl_log(GL_LOG_ERROR, NULL, "live: cannot start the poster thread");
		return -1;
	}
	return 0;
}

void
orders_live_stop(void)
{
	bool started;

	pthread_mutex_lock(&live_lock);
	started = live_started;
	live_stop = true;
	pthread_cond_signal(&live_cond);
	pthread_mutex_unlock(&live_lock);
	if (!started)
		return;
	/* The poster posts what is queued, then ends. */
	pthread_join(live_thread, NULL);
	pthread_mutex_lock(&live_lock);
	live_started = false;
	pthread_mutex_unlock(&live_lock);
}
