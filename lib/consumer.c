#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "now.h"
#include "stop.h"
#include "trace.h"

/* Entries of types a service does not handle are acknowledged together, at most this many
 * at once and CONSUMER_SKIP_MS after the first (consumer_skip). */
#define CONSUMER_SKIP_MAX 50
#define CONSUMER_SKIP_MS  200

/* A batch's handled marks are asked for at most this many entries at once, and trusted
 * this long (consumer_marks). */
#define CONSUMER_MARKS_MAX 50
#define CONSUMER_MARKS_MS  50

/* What one MGET said of an entry: whether the event whose id was beside it was handled. */
struct consumer_hint {
	const char *id; /* borrowed from the entry; NULL: not asked (not ours, or met before) */
	int seen;       /* 1 yes, 0 no, -1 not known */
};

struct consumer_marks {
	struct consumer_hint hint[CONSUMER_MARKS_MAX];
	size_t from, n;     /* the entries list->element[from .. from + n - 1] */
	long long asked_at; /* gl_now_us() */
};

struct consumer_reader {
	const char *family;
	const struct gl_event_handler *handlers;
	gl_event_handle_batch handle_batch; /* or NULL: each event its handler's */
	char stream[48];
	char group[48];
	char consumer[64];
	char skipped[CONSUMER_SKIP_MAX][48]; /* their entry ids, not yet acknowledged */
	size_t nskipped;
	long long skipped_at; /* when the first of them was read (gl_now_us) */
	bool took;            /* an entry of a type it handles came since this was cleared */
	bool followed;        /* its group was made (or found) and its stream named */
};

/*
 * The group, from the start of the stream (a service added later reads what it missed), and
 * the stream named in GL_CONSUMER_STREAMS.  Once, and again after a read failed: a store that
 * came back empty has neither, and the read's NOGROUP is how the process learns it.
 */
static void
consumer_follow(struct consumer_reader *rd)
{
	const char *argv[] = { "XGROUP", "CREATE", rd->stream, rd->group, "0", "MKSTREAM" };
	const char *name[] = { "SADD", GL_CONSUMER_STREAMS, rd->stream };
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 6, argv);

	/* BUSYGROUP: it exists, as it does for every process of the service but the first. */
	rd->followed = r != NULL &&
	               (r->type == REDIS_REPLY_STATUS ||
	                (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0));
	if (r != NULL)
		freeReplyObject(r);
	if (rd->followed)
		rd->followed = gl_redis_type(GL_REDIS_STORE, 3, name) == REDIS_REPLY_INTEGER;
}

/*
 * Entry sid is done: for an event this service handled, its id is kept for
 * GL_CONSUMER_HANDLED_KEEP_S (a redelivery is then seen as done), and the
 * entry is acknowledged and its failures forgotten, in one step.
 */
static const char consumer_done_lua[] =
        "if ARGV[3] ~= '' then redis.call('SET', KEYS[3], '1', 'EX', ARGV[4]) end "
        "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) "
        "redis.call('HDEL', KEYS[2], ARGV[2]) "
        "return 1";

static void
consumer_handled_key(char *buf, size_t size, const char *id)
{
	snprintf(buf, size, "galley:handled:%s:%s", gl_conf.service, id != NULL ? id : "");
}

/* What marking entry sid done takes (consumer_done_lua's keys and arguments), with the
 * strings it points to. */
struct consumer_done {
	struct gl_consumer_ack a;
	char tries[112], handled[160], keep[16];
};

static void
consumer_done_init(struct consumer_done *d, const struct consumer_reader *rd, const char *sid,
                   const char *handled)
{
	snprintf(d->tries, sizeof(d->tries), "%s:%s:tries", rd->stream, rd->group);
	consumer_handled_key(d->handled, sizeof(d->handled), handled);
	snprintf(d->keep, sizeof(d->keep), "%d", GL_CONSUMER_HANDLED_KEEP_S);
	d->a = (struct gl_consumer_ack){
		rd->stream, d->tries, d->handled, rd->group, sid, d->keep
	};
}

/* The acknowledgement riding on this thread's next kept write (consumer.h). */
static __thread struct {
	bool riding, rode;
	struct consumer_done done;
} consumer_rider;

const struct gl_consumer_ack *
gl_consumer_ack_riding(void)
{
	return consumer_rider.riding && !consumer_rider.rode ? &consumer_rider.done.a : NULL;
}

void
gl_consumer_ack_rode(void)
{
	consumer_rider.rode = true;
}

/* Acknowledge entry sid; handled (the event's id, or NULL) marks the event handled too. */
static void
consumer_ack(const struct consumer_reader *rd, const char *sid, const char *handled)
{
	struct consumer_done d;
	redisReply *r;

	consumer_done_init(&d, rd, sid, handled);
	const char *argv[] = { "EVAL",
		               consumer_done_lua,
		               "3",
		               rd->stream,
		               d.tries,
		               d.handled,
		               rd->group,
		               sid,
		               handled != NULL ? handled : "",
		               d.keep };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 10, argv)) == NULL)
		gl_log(GL_LOG_WARN, NULL, "events: %s stays pending (the store is away)", sid);
	else
		freeReplyObject(r);
}

/* Counts only a pending entry's failures: an entry acknowledged already (by a write that
 * carried it, whose reply was lost) would otherwise keep a field nothing removes. */
static const char consumer_failure_lua[] =
        "if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then "
        "redis.call('HDEL', KEYS[2], ARGV[2]) return 0 end "
        "return redis.call('HINCRBY', KEYS[2], ARGV[2], 1)";

long long
gl_consumer_failure_count(const char *stream, const char *group, const char *sid)
{
	char tries[112];
	const char *argv[] = { "EVAL", consumer_failure_lua, "2", stream, tries, group, sid };
	redisReply *r;
	long long n;

	snprintf(tries, sizeof(tries), "%s:%s:tries", stream, group);
	if ((r = gl_redis_strv(GL_REDIS_STORE, 7, argv)) == NULL)
		return -1;
	n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	return n;
}

/* One more failure of entry sid; past GL_CONSUMER_TRIES it goes to the dead letters, at
 * once when hopeless (no try can succeed: the entry holds no event, or its data does not
 * fit the handler's table). */
static void
consumer_failed(const struct consumer_reader *rd, const char *sid, const char *text,
                const char *error, bool hopeless)
{
	char dead[64];
	long long n = gl_consumer_failure_count(rd->stream, rd->group, sid);
	redisReply *r;

	if (n == 0) {
		gl_log(GL_LOG_WARN, NULL,
		       "events: %s failed in %s after its acknowledgement was made: %s", sid,
		       rd->group, error);
		return;
	}
	snprintf(dead, sizeof(dead), "%s:dead", rd->stream);
	gl_log(GL_LOG_WARN, NULL, "events: %s failed in %s (try %lld): %s", sid, rd->group, n,
	       error);
	if (!hopeless && n < GL_CONSUMER_TRIES) {
		gl_metrics_event(GL_METRICS_RETRIED, rd->family, NULL);
		return;
	}
	const char *xadd[] = { "XADD",    dead,    "MAXLEN", "~",     "10000", "*",     "group",
		               rd->group, "entry", sid,      "event", text,    "error", error };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 14, xadd)) == NULL ||
	    r->type != REDIS_REPLY_STRING) {
		if (r != NULL)
			freeReplyObject(r);
		return; /* not moved: stays pending, tried again */
	}
	freeReplyObject(r);
	gl_log(GL_LOG_ERROR, NULL, "events: %s moved to %s after %lld tries: %s", sid, dead, n,
	       error);
	gl_metrics_event(GL_METRICS_DEAD_LETTERED, rd->family, NULL);
	consumer_ack(rd, sid, NULL);
}

/* Acknowledge the skipped entries in one command.  The store away: they stay pending, are
 * claimed after GL_CONSUMER_CLAIM_IDLE_MS (by this consumer too) and skipped again. */
static void
consumer_skip_flush(struct consumer_reader *rd)
{
	const char *argv[3 + CONSUMER_SKIP_MAX] = { "XACK", rd->stream, rd->group };
	redisReply *r;

	if (rd->nskipped == 0)
		return;
	for (size_t i = 0; i < rd->nskipped; i++)
		argv[3 + i] = rd->skipped[i];
	if ((r = gl_redis_strv(GL_REDIS_STORE, 3 + (int)rd->nskipped, argv)) == NULL)
		gl_log(GL_LOG_WARN, NULL,
		       "events: %zu entries of %s stay pending (the store is away)", rd->nskipped,
		       rd->stream);
	else
		freeReplyObject(r);
	rd->nskipped = 0;
}

/*
 * Entry sid holds an event this service does not handle.  Every group reads
 * every entry of its family's stream, so most entries are someone else's:
 * one acknowledgement per entry, each a write the store makes durable, was
 * about half the store's commands on an order's way.  Left pending a moment
 * longer costs nothing: nothing is redone for them.
 */
static void
consumer_skip(struct consumer_reader *rd, const char *sid)
{
	if (strlen(sid) >= sizeof(rd->skipped[0])) {
		consumer_ack(rd, sid, NULL);
		return;
	}
	if (rd->nskipped == 0)
		rd->skipped_at = gl_now_us();
	snprintf(rd->skipped[rd->nskipped++], sizeof(rd->skipped[0]), "%s", sid);
	if (rd->nskipped == CONSUMER_SKIP_MAX)
		consumer_skip_flush(rd);
}

/* Has this service handled event id?  1 yes, 0 no, -1 cannot tell. */
static int
consumer_handled(const char *id)
{
	char key[160];

	consumer_handled_key(key, sizeof(key), id);
	return gl_redis_exists(GL_REDIS_STORE, key);
}

enum gl_err
gl_consumer_check(const struct gl_event_handler *h, const json_t *event, struct gl_valid_fail *fail)
{
	if (h->data == NULL) {
		fail->field[0] = fail->message[0] = '\0';
		return GL_OK;
	}
	return gl_valid_object(h->data, json_object_get(event, "data"), false, fail);
}

/* Does event's data fit h's table?  When not, no try can succeed: logged, where and why. */
static bool
consumer_fits(const struct gl_event_handler *h, const json_t *ev)
{
	struct gl_valid_fail fail;

	if (gl_consumer_check(h, ev, &fail) == GL_OK)
		return true;
	gl_log(GL_LOG_WARN, NULL, "events: %s %s: data%s%s %s", h->type,
	       json_string_value(json_object_get(ev, "id")), fail.field[0] != '\0' ? "." : "",
	       fail.field, fail.message);
	return false;
}

/* Check event's data against h's table (*hopeless when it does not fit), then let h handle
 * it. */
static enum gl_err
consumer_handle(const struct gl_event_handler *h, const json_t *ev, bool *hopeless)
{
	enum gl_err err;

	if ((*hopeless = !consumer_fits(h, ev)))
		return GL_E_VALIDATION;
	err = h->handle(ev);
	/* Another process changed the same document at the same moment (two events of one
	 * order, followed in parallel): the handler reads it again, a few ms later, rather
	 * than a second later as a counted failure. */
	for (int i = 1; err == GL_E_CONFLICT && i <= 3 && !gl_stop_requested(); i++) {
		const struct timespec wait = { 0, i * 10 * 1000 * 1000 };
		nanosleep(&wait, NULL);
		err = h->handle(ev);
	}
	return err;
}

/* The handler of type in the group's table (its end, whose type is NULL, when none). */
static const struct gl_event_handler *
consumer_handler(const struct consumer_reader *rd, const char *type)
{
	const struct gl_event_handler *h;

	for (h = rd->handlers; h->type != NULL && strcmp(h->type, type) != 0; h++)
		;
	return h;
}

/*
 * The field name its writer put beside the event in entry e, [sid, [field, value, ...]]
 * (events.c and kept.c put "id" and "type"), borrowed from e; NULL when there is none.
 * Is e of a type the group does not handle?  Most entries a group reads are such (stock,
 * payments and kitchen skip every order.created): known without decoding the event's JSON.
 */
static const char *
consumer_beside(const redisReply *e, const char *name)
{
	const redisReply *f;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	f = e->element[1];
	for (size_t i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0)
			return f->element[i + 1]->str;
	return NULL;
}

static bool
consumer_not_ours(const struct consumer_reader *rd, const redisReply *e)
{
	const char *type = consumer_beside(e, "type");

	return type != NULL && consumer_handler(rd, type)->type == NULL; /* none: the event says */
}

/*
 * An entry's first steps: the handler of the event in e, [sid, [field, value, ...]], with
 * *sid and *text borrowed from e and *ev new; NULL when there is nothing more to do with it
 * (not ours: skipped; no event in it: failed; deleted while pending).
 */
static const struct gl_event_handler *
consumer_open(struct consumer_reader *rd, const redisReply *e, const char **sid, const char **text,
              json_t **ev)
{
	const struct gl_event_handler *h;
	int got;

	if (consumer_not_ours(rd, e)) {
		consumer_skip(rd, e->element[0]->str);
		return NULL;
	}
	got = gl_consumer_decode(e, sid, text, ev);
	if (got < 0)
		return NULL; /* an entry deleted while pending: nothing to handle */
	if (got == 0) {
		consumer_failed(rd, *sid, *text != NULL ? *text : "", "the entry holds no event",
		                true);
		return NULL;
	}
	if ((h = consumer_handler(rd, json_string_value(json_object_get(*ev, "type"))))->type ==
	    NULL) {
		consumer_skip(rd, *sid); /* not ours */
		json_decref(*ev);
		*ev = NULL;
		return NULL;
	}
	rd->took = true;
	return h;
}

/* What came of handling entry sid, event ev of h's type: acknowledged (rode: by the
 * handler's write already), or one more failure. */
static void
consumer_outcome(struct consumer_reader *rd, const struct gl_event_handler *h, const char *sid,
                 const char *text, const json_t *ev, enum gl_err err, bool hopeless, bool rode)
{
	const char *id = json_string_value(json_object_get(ev, "id"));

	if (err != GL_OK) {
		consumer_failed(rd, sid, text, gl_err_info(err)->code, hopeless);
		return;
	}
	if (h->unrecorded)
		consumer_skip(rd, sid);
	else if (!rode)
		consumer_ack(rd, sid, id);
	gl_metrics_event(GL_METRICS_CONSUMED, rd->family, h->type);
	gl_log(GL_LOG_INFO, NULL, "events: handled %s %s", h->type, id);
}

/* One stream entry: [sid, [field, value, ...]]; hint is what the batch's read of the handled
 * marks said of the id beside it (struct consumer_marks), or NULL. */
static void
consumer_entry(struct consumer_reader *rd, const redisReply *e, const struct consumer_hint *hint)
{
	const char *sid, *text, *id, *type;
	const struct gl_event_handler *h;
	json_t *ev;
	enum gl_err err;
	bool hopeless;
	int seen;

	if ((h = consumer_open(rd, e, &sid, &text, &ev)) == NULL)
		return;
	id = json_string_value(json_object_get(ev, "id"));
	type = h->type;
	/* The batch's answer holds for the id it was asked about. */
	seen = h->unrecorded                               ? 0
	       : hint != NULL && strcmp(hint->id, id) == 0 ? hint->seen
	                                                   : consumer_handled(id);
	if (seen == 1) {
		consumer_ack(rd, sid, NULL); /* done before */
		json_decref(ev);
		return;
	}
	if (seen < 0) {
		json_decref(ev); /* cannot tell: leave it pending, try again */
		return;
	}
	struct gl_trace_span span; /* a child of the publisher's span, in the event */
	gl_trace_consume_start(&span, ev, rd->stream, rd->group);
	if (h->ack_rides) {
		consumer_done_init(&consumer_rider.done, rd, sid, id);
		consumer_rider.riding = true;
		consumer_rider.rode = false;
	}
	err = consumer_handle(h, ev, &hopeless);
	bool rode = consumer_rider.riding && consumer_rider.rode;
	consumer_rider.riding = false;
	if (rode && err != GL_OK) {
		/* Its write, and with it the acknowledgement, was made: what failed after it
		 * is let go (consumer.h, ack_rides). */
		gl_log(GL_LOG_WARN, NULL, "events: %s %s handled, then: %s", type, id,
		       gl_err_info(err)->code);
		err = GL_OK;
	}
	consumer_outcome(rd, h, sid, text, ev, err, hopeless, rode);
	gl_trace_end(&span, err != GL_OK);
	json_decref(ev);
}

/* An event of a batch: its entry's id and text (borrowed from the reply), itself (owned). */
struct consumer_item {
	const struct gl_event_handler *h;
	const char *sid, *text;
	json_t *ev;
};

/* Let the source's handle_batch handle items (their events checked), then record each
 * outcome; frees their events. */
static void
consumer_batch(struct consumer_reader *rd, struct consumer_item *items, size_t n)
{
	const json_t *evs[GL_CONSUMER_BATCH_MAX] = { NULL };
	enum gl_err err[GL_CONSUMER_BATCH_MAX];
	struct gl_trace_span span[GL_CONSUMER_BATCH_MAX];

	for (size_t i = 0; i < n; i++) {
		evs[i] = items[i].ev;
		err[i] = GL_E_INTERNAL; /* what the batch does not say */
		gl_trace_consume_start(&span[i], items[i].ev, rd->stream, rd->group);
	}
	rd->handle_batch(evs, n, err);
	for (size_t i = 0; i < n; i++)
		consumer_outcome(rd, items[i].h, items[i].sid, items[i].text, items[i].ev, err[i],
		                 false, false);
	for (size_t i = n; i-- > 0;) /* a thread's spans end in the order opposite to their start */
		gl_trace_end(&span[i], err[i] != GL_OK);
	for (size_t i = 0; i < n; i++)
		json_decref(items[i].ev);
}

/*
 * A reply's entry list for a source with handle_batch: what it handles of the list, checked,
 * in one call (at most GL_CONSUMER_BATCH_MAX at once).  Its rows are unrecorded, so no
 * handled marks are asked for: the batch marks its events itself.
 */
static void
consumer_entries_batch(struct consumer_reader *rd, const redisReply *list)
{
	struct consumer_item items[GL_CONSUMER_BATCH_MAX];
	size_t n = 0;

	/* Cut short by a stop: what is left stays pending, claimed by another consumer. */
	for (size_t i = 0; i < list->elements && !gl_stop_requested(); i++) {
		struct consumer_item *it = &items[n];
		if ((it->h = consumer_open(rd, list->element[i], &it->sid, &it->text, &it->ev)) ==
		    NULL)
			continue;
		if (!consumer_fits(it->h, it->ev)) {
			consumer_failed(rd, it->sid, it->text, gl_err_info(GL_E_VALIDATION)->code,
			                true);
			json_decref(it->ev);
			continue;
		}
		if (++n == GL_CONSUMER_BATCH_MAX) {
			consumer_batch(rd, items, n);
			n = 0;
		}
	}
	if (n > 0)
		consumer_batch(rd, items, n);
}

/*
 * Whether this service handled each event of a batch, asked in one MGET rather than an EXISTS
 * an event: in a burst a group reads up to 50 entries at once, and each round trip to the
 * store costs more (wake-ups, system calls) than the command.  An answer is used for
 * CONSUMER_MARKS_MS only, then asked again for the rest, so that a copy of an event handled
 * meanwhile by another consumer is seen as before, within a few milliseconds; an id met
 * twice in one batch is asked again when its turn comes (its first copy marks it).
 */
static void
consumer_marks(struct consumer_marks *m, const struct consumer_reader *rd, const redisReply *list,
               size_t from)
{
	const char *argv[1 + CONSUMER_MARKS_MAX];
	char keys[CONSUMER_MARKS_MAX][160];
	size_t at[CONSUMER_MARKS_MAX];
	int argc = 1;
	redisReply *r;

	m->from = from;
	m->n = 0;
	m->asked_at = gl_now_us();
	argv[0] = "MGET";
	for (size_t i = from; i < list->elements && m->n < CONSUMER_MARKS_MAX; i++) {
		const redisReply *e = list->element[i];
		const char *id = consumer_beside(e, "id"), *type = consumer_beside(e, "type");
		const struct gl_event_handler *h = type != NULL ? consumer_handler(rd, type) : NULL;

		m->hint[m->n].id = NULL;
		m->hint[m->n].seen = -1;
		if (id != NULL && h != NULL && h->type != NULL && !h->unrecorded &&
		    strlen(id) <= 64) {
			bool again = false;
			for (size_t j = 0; j < m->n && !again; j++)
				again = m->hint[j].id != NULL && strcmp(m->hint[j].id, id) == 0;
			if (!again) {
				m->hint[m->n].id = id;
				consumer_handled_key(keys[argc - 1], sizeof(keys[0]), id);
				argv[argc] = keys[argc - 1];
				at[argc - 1] = m->n;
				argc++;
			}
		}
		m->n++;
	}
	if (argc == 1)
		return;
	r = gl_redis_strv(GL_REDIS_STORE, argc, argv);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)(argc - 1))
		for (int k = 0; k < argc - 1; k++)
			m->hint[at[k]].seen = r->element[k]->type != REDIS_REPLY_NIL;
	/* Else each is asked alone (-1), as it would be without the batch. */
	if (r != NULL)
		freeReplyObject(r);
}

/* Handle the entries of a reply's entry list. */
static void
consumer_entries(struct consumer_reader *rd, const redisReply *list)
{
	struct consumer_marks m = { .n = 0 };

	if (list == NULL || list->type != REDIS_REPLY_ARRAY)
		return;
	if (rd->handle_batch != NULL) {
		consumer_entries_batch(rd, list);
		return;
	}
	/* Cut short by a stop: what is left stays pending, claimed by another consumer. */
	for (size_t i = 0; i < list->elements && !gl_stop_requested(); i++) {
		if (i >= m.from + m.n || gl_now_us() - m.asked_at > CONSUMER_MARKS_MS * 1000LL)
			consumer_marks(&m, rd, list, i);
		const struct consumer_hint *hint = &m.hint[i - m.from];
		consumer_entry(rd, list->element[i],
		               hint->id != NULL && hint->seen >= 0 ? hint : NULL);
	}
}

/* XREADGROUP from id ("0": our own pending entries; ">": new ones); -1 when Redis said no. */
static int
consumer_read(struct consumer_reader *rd, const char *from)
{
	const char *argv[] = { "XREADGROUP", "GROUP",   rd->group,  rd->consumer, "COUNT",
		               "50",         "STREAMS", rd->stream, from };
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, 9, argv);
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	         r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
		consumer_entries(rd, r->element[0]->element[1]);
	freeReplyObject(r);
	return rc;
}

static void
consumer_reader_init(struct consumer_reader *rd, const struct gl_event_source *src)
{
	char host[32] = "";

	rd->family = src->family;
	rd->handlers = src->handlers;
	rd->handle_batch = src->handle_batch;
	rd->nskipped = 0;
	rd->took = false;
	rd->followed = false;
	snprintf(rd->stream, sizeof(rd->stream), "galley:events:%s", src->family);
	snprintf(rd->group, sizeof(rd->group), "%s", gl_conf.service);
	gethostname(host, sizeof(host) - 1);
	snprintf(rd->consumer, sizeof(rd->consumer), "%s:%d", host, (int)getpid());
}

/*
 * About once a second: the group, when it is not known to exist
 * (consumer_follow), what a dead consumer left pending, then our own
 * failures, tried again.  The entries done but not yet acknowledged (the
 * skipped, and those of unrecorded handlers) are acknowledged first: our own
 * pending ones read while they waited came back as failures, and an
 * unrecorded handler, which keeps no mark, did its work twice (orders' live
 * post of order.created, seen by tests/e2e/95-live.sh).
 */
static void
consumer_upkeep(struct consumer_reader *rd)
{
	char idle[16];
	redisReply *r;

	consumer_skip_flush(rd);
	if (!rd->followed)
		consumer_follow(rd);
	snprintf(idle, sizeof(idle), "%d", GL_CONSUMER_CLAIM_IDLE_MS);
	const char *claim[] = { "XAUTOCLAIM", rd->stream, rd->group, rd->consumer,
		                idle,         "0-0",      "COUNT",   "20" };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 8, claim)) != NULL) {
		if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
			consumer_entries(rd, r->element[1]);
		freeReplyObject(r);
	}
	if (!gl_stop_requested())
		(void)consumer_read(rd, "0");
}

/*
 * Wait up to GL_CONSUMER_BLOCK_MS for new entries on every stream at once and
 * handle what comes: how many entries came (0: none), or -1 when Redis is away
 * or said no (a stream whose group is gone after a restart: the upkeep makes
 * it again).  *took: whether any was of a type the service handles.
 */
static int
consumer_wait(struct consumer_reader *rd, size_t n, bool *took)
{
	const char *argv[8 + 2 * GL_CONSUMER_SOURCES_MAX];
	size_t lens[8 + 2 * GL_CONSUMER_SOURCES_MAX];
	char block[16];
	int argc = 0, rc = 0;
	redisReply *r;

	*took = false;
	for (size_t i = 0; i < n; i++)
		rd[i].took = false;
	snprintf(block, sizeof(block), "%d", GL_CONSUMER_BLOCK_MS);
	const char *head[] = { "XREADGROUP", "GROUP", rd[0].group, rd[0].consumer, "COUNT",
		               "50",         "BLOCK", block,       "STREAMS" };
	for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
		argv[argc++] = head[i];
	for (size_t i = 0; i < n; i++)
		argv[argc++] = rd[i].stream;
	for (size_t i = 0; i < n; i++)
		argv[argc++] = ">";
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if ((r = gl_redis_block(GL_REDIS_STORE, GL_CONSUMER_BLOCK_MS, argc, argv, lens)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (r->type == REDIS_REPLY_ARRAY) /* [[stream, entries], ...]; nil: nothing came */
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *s = r->element[i];
			if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
			    s->element[0]->type != REDIS_REPLY_STRING)
				continue;
			for (size_t j = 0; j < n; j++)
				if (strcmp(s->element[0]->str, rd[j].stream) == 0) {
					consumer_entries(&rd[j], s->element[1]);
					rc += (int)s->element[1]->elements;
					*took = *took || rd[j].took;
				}
		}
	freeReplyObject(r);
	return rc;
}

/* Wait ms (in slices of at most 100 ms), cut short by a stop. */
static void
consumer_nap(int ms)
{
	while (ms > 0 && !gl_stop_requested()) {
		int part = ms < 100 ? ms : 100;
		const struct timespec slice = { 0, part * 1000L * 1000L };

		nanosleep(&slice, NULL);
		ms -= part;
	}
}

void
gl_consumer_run(const struct gl_event_source *sources)
{
	struct consumer_reader rd[GL_CONSUMER_SOURCES_MAX];
	long long upkeep_at = 0;
	size_t n = 0;
	int gather_ms = 0, skip_gather_ms = 0, got;
	bool took;

	for (; n < GL_CONSUMER_SOURCES_MAX && sources[n].family != NULL; n++) {
		consumer_reader_init(&rd[n], &sources[n]);
		if (n == 0 || sources[n].gather_ms < gather_ms)
			gather_ms = sources[n].gather_ms;
		if (n == 0 || sources[n].skip_gather_ms < skip_gather_ms)
			skip_gather_ms = sources[n].skip_gather_ms;
	}
	if (sources[n].family != NULL)
		gl_log(GL_LOG_ERROR, NULL, "events: only %d streams are followed",
		       GL_CONSUMER_SOURCES_MAX);
	while (n > 0 && !gl_stop_requested()) {
		if (gl_now_us() >= upkeep_at) {
			for (size_t i = 0; i < n && !gl_stop_requested(); i++)
				consumer_upkeep(&rd[i]);
			upkeep_at = gl_now_us() + 1000000;
		}
		got = gl_stop_requested() ? 0 : consumer_wait(rd, n, &took);
		if (got < 0) {
			for (size_t i = 0; i < n; i++)
				rd[i].followed = false; /* a store that came back empty, say */
			upkeep_at = 0;
			consumer_nap(500); /* Redis is away */
		} else if (got > 0 && gather_ms > 0)
			consumer_nap(gather_ms); /* let the next read bring a batch (consumer.h) */
		else if (got > 0 && !took && skip_gather_ms > 0)
			consumer_nap(skip_gather_ms); /* only others' entries came (consumer.h) */
		for (size_t i = 0; i < n; i++)
			if (rd[i].nskipped > 0 &&
			    gl_now_us() - rd[i].skipped_at >= CONSUMER_SKIP_MS * 1000LL)
				consumer_skip_flush(&rd[i]);
	}
	for (size_t i = 0; i < n; i++)
		consumer_skip_flush(&rd[i]);
}

/* ------------------------------------------------------------------ decoding (consumer.h) */

int
gl_consumer_decode(const redisReply *e, const char **sid, const char **text, json_t **event)
{
	const char *id, *type;

	*sid = *text = NULL;
	*event = NULL;
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
		return -1;
	*sid = e->element[0]->str;
	for (size_t i = 0; i + 1 < e->element[1]->elements; i += 2)
		if (e->element[1]->element[i]->type == REDIS_REPLY_STRING &&
		    e->element[1]->element[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(e->element[1]->element[i]->str, "event") == 0)
			*text = e->element[1]->element[i + 1]->str;
	*event = *text != NULL ? json_loads(*text, 0, NULL) : NULL;
	id = json_string_value(json_object_get(*event, "id"));
	type = json_string_value(json_object_get(*event, "type"));
	if (id == NULL || type == NULL || strlen(id) > 64) {
		json_decref(*event);
		*event = NULL;
		return 0;
	}
	return 1;
}
