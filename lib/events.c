#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "req.h"
#include "stop.h"
#include "trace.h"

#define OUTBOX "outbox"

struct gl_event {
	bson_oid_t oid;
	char id[25];
	char type[48];
	char family[16];
	char *text;                /* the event as JSON, as it is sent */
	struct gl_trace_span span; /* publishing it, from stage to send, drop or leave */
};

/* The stream family of a type: "order.paid" → "orders"; -1 for a type of no family. */
static int
events_family(const char *type, char *out, size_t size)
{
	static const char *const families[][2] = {
		{ "order", "orders" },      { "payment", "payments" }, { "stock", "stock" },
		{ "reservation", "stock" }, { "kitchen", "kitchen" },
	};
	size_t n = strcspn(type, ".");

	if (type[n] != '.' || type[n + 1] == '\0')
		return -1;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (strlen(families[i][0]) == n && strncmp(type, families[i][0], n) == 0) {
			snprintf(out, size, "%s", families[i][1]);
			return 0;
		}
	return -1;
}

static void
events_free(struct gl_event *ev)
{
	if (ev == NULL)
		return;
	gl_trace_end(&ev->span, false);
	free(ev->text);
	free(ev);
}

struct gl_event *
gl_events_stage(const struct gl_req *req, const char *type, json_t *data,
                const struct gl_event_proof *proof, enum gl_err *err)
{
	struct gl_event *ev = calloc(1, sizeof(*ev));
	bson_t doc = BSON_INITIALIZER, p;
	bson_oid_t subject;
	json_t *j = NULL;
	char at[32], traceparent[GL_TRACE_PARENT_SIZE];

	*err = GL_E_INTERNAL;
	if (ev == NULL || strlen(type) >= sizeof(ev->type) ||
	    events_family(type, ev->family, sizeof(ev->family)) < 0 ||
	    !gl_oid_parse(proof->id, &subject)) {
		gl_log(GL_LOG_ERROR, NULL, "events: cannot stage %s", type);
		json_decref(data);
		events_free(ev);
		return NULL;
	}
	bson_oid_init(&ev->oid, NULL);
	bson_oid_to_string(&ev->oid, ev->id);
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	gl_doc_time(at, sizeof(at), (int64_t)time(NULL) * 1000);
	/* The event carries its publishing span: its consumers' spans are children of it. */
	gl_trace_produce_start(&ev->span, type, ev->family, ev->id);
	gl_trace_header(&ev->span, traceparent, sizeof(traceparent));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", ev->id, "type", type, "occurred_at",
	              at, "request_id", req != NULL ? req->request_id : "", "traceparent",
	              traceparent, "data", data);
	if (j == NULL || (ev->text = gl_json_dump_new(j)) == NULL) {
		json_decref(j);
		events_free(ev);
		return NULL;
	}
	json_decref(j);
	BSON_APPEND_OID(&doc, "_id", &ev->oid);
	BSON_APPEND_UTF8(&doc, "type", ev->type);
	BSON_APPEND_UTF8(&doc, "family", ev->family);
	BSON_APPEND_UTF8(&doc, "event", ev->text);
	BSON_APPEND_INT64(&doc, "staged", (int64_t)time(NULL));
	BSON_APPEND_DOCUMENT_BEGIN(&doc, "proof", &p);
	BSON_APPEND_UTF8(&p, "coll", proof->coll);
	BSON_APPEND_OID(&p, "id", &subject);
	BSON_APPEND_INT64(&p, "version", proof->version);
	bson_append_document_end(&doc, &p);
	*err = gl_db_insert(OUTBOX, &doc);
	bson_destroy(&doc);
	if (*err != GL_OK) {
		events_free(ev);
		return NULL;
	}
	return ev;
}

/* XADD to the family's stream, PUBLISH to its live channel: 0, or -1 when Redis said no. */
static int
events_publish(const char *family, const char *id, const char *type, const char *text)
{
	char stream[48], channel[48];
	redisReply *r;
	int ok;

	snprintf(stream, sizeof(stream), "galley:events:%s", family);
	snprintf(channel, sizeof(channel), "galley:live:%s", family);
	const char *xadd[] = { "XADD", stream, "MAXLEN", "~",  GL_EVENTS_MAXLEN, "*",
		               "id",   id,     "type",   type, "event",          text };
	r = gl_redis_strv(12, xadd);
	ok = r != NULL && r->type == REDIS_REPLY_STRING;
	if (r != NULL)
		freeReplyObject(r);
	if (!ok)
		return -1;
	gl_metrics_event(GL_METRICS_PUBLISHED, family, type);
	/* Live views may miss one (pub/sub keeps nothing); the stream has it. */
	const char *pub[] = { "PUBLISH", channel, text };
	if ((r = gl_redis_strv(3, pub)) != NULL)
		freeReplyObject(r);
	return 0;
}

static void
outbox_forget(const bson_oid_t *oid)
{
	bson_t filter = BSON_INITIALIZER;

	BSON_APPEND_OID(&filter, "_id", oid);
	if (gl_db_delete_where(OUTBOX, &filter, NULL) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "events: an outbox entry stays; the relay settles it");
	bson_destroy(&filter);
}

/*
 * A sent event is kept for GL_EVENTS_KEEP_S in "sent": a Redis that
 * restarts empty has lost the streams, and everything sent that recently is
 * sent again (consumers take each id once).  0, or -1 (then the outbox
 * entry stays, and the relay sends it again).
 */
static int
events_keep(const bson_oid_t *oid, const char *family, const char *type, const char *text)
{
	bson_t doc = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_OID(&doc, "_id", oid);
	BSON_APPEND_UTF8(&doc, "family", family);
	BSON_APPEND_UTF8(&doc, "type", type);
	BSON_APPEND_UTF8(&doc, "event", text);
	err = gl_db_insert("sent", &doc);
	bson_destroy(&doc);
	return err == GL_OK || err == GL_E_CONFLICT ? 0 : -1;
}

void
gl_events_send(struct gl_event *ev)
{
	if (ev == NULL)
		return;
	if (events_publish(ev->family, ev->id, ev->type, ev->text) == 0) {
		if (events_keep(&ev->oid, ev->family, ev->type, ev->text) == 0)
			outbox_forget(&ev->oid);
	} else
		gl_log(GL_LOG_WARN, NULL, "events: %s %s waits in the outbox (Redis is away)",
		       ev->type, ev->id);
	events_free(ev);
}

void
gl_events_drop(struct gl_event *ev)
{
	if (ev == NULL)
		return;
	outbox_forget(&ev->oid);
	events_free(ev);
}

void
gl_events_leave(struct gl_event *ev)
{
	events_free(ev);
}

/* Did the write happen?  1 yes, 0 no, -1 cannot tell now. */
static int
outbox_proven(const json_t *entry)
{
	const json_t *proof = json_object_get(entry, "proof");
	const char *coll = json_string_value(json_object_get(proof, "coll"));
	bson_oid_t oid;
	json_t *doc;
	enum gl_err err;
	int yes;

	if (coll == NULL || !gl_oid_parse(json_string_value(json_object_get(proof, "id")), &oid))
		return 0;
	err = gl_db_get(coll, &oid, &doc);
	if (err == GL_E_NOT_FOUND)
		return 0;
	if (err != GL_OK)
		return -1;
	yes = json_integer_value(json_object_get(doc, "version")) >=
	      json_integer_value(json_object_get(proof, "version"));
	json_decref(doc);
	return yes;
}

/* Redis's run id (it changes when Redis restarts) into buf; -1 when Redis is away. */
static int
events_redis_run(char *buf, size_t size)
{
	const char *argv[] = { "INFO", "server" };
	redisReply *r = gl_redis_strv(2, argv);
	const char *p;
	int rc = -1;

	if (r != NULL && r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "run_id:")) != NULL) {
		p += strlen("run_id:");
		snprintf(buf, size, "%.*s", (int)strcspn(p, "\r\n"), p);
		rc = 0;
	}
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* The ObjectId of the start of second t: ids below it were made before. */
static void
events_oid_at(bson_oid_t *oid, int64_t t)
{
	uint8_t b[12] = { 0 };

	b[0] = (uint8_t)(t >> 24);
	b[1] = (uint8_t)(t >> 16);
	b[2] = (uint8_t)(t >> 8);
	b[3] = (uint8_t)t;
	bson_oid_init_from_data(oid, b);
}

/* Send every kept event again; how many went. */
static size_t
events_resend_kept(void)
{
	json_t *sent, *e;
	size_t i, n = 0;

	if (gl_db_find_all("sent", NULL, 100000, &sent) != GL_OK)
		return 0;
	json_array_foreach(sent, i, e)
	{
		const char *family = json_string_value(json_object_get(e, "family"));
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *text = json_string_value(json_object_get(e, "event"));

		if (family == NULL || id == NULL || type == NULL || text == NULL)
			continue;
		if (events_publish(family, id, type, text) < 0)
			break;
		n++;
	}
	json_decref(sent);
	return n;
}

static enum gl_err
events_replay_claim(const char *run)
{
	bson_t doc = BSON_INITIALIZER;
	char id[96];
	enum gl_err err;

	snprintf(id, sizeof(id), "replay:%s", run);
	BSON_APPEND_UTF8(&doc, "_id", id);
	err = gl_db_insert("relay", &doc);
	bson_destroy(&doc);
	return err;
}

/*
 * Has Redis restarted since the last look (its run id, kept in MongoDB as
 * "relay" {_id: "redis"})?  Then send again what was sent in the last
 * GL_EVENTS_KEEP_S.  Once a minute, forget what is older.
 */
static void
events_replay(void)
{
	static _Thread_local time_t pruned;
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, lt;
	char run[64], *seen = NULL;
	json_t *doc;
	bson_oid_t cut;
	time_t now = time(NULL);

	if (now - pruned >= 60) {
		pruned = now;
		events_oid_at(&cut, (int64_t)now - GL_EVENTS_KEEP_S);
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &lt);
		BSON_APPEND_OID(&lt, "$lt", &cut);
		bson_append_document_end(&filter, &lt);
		if (gl_db_delete_where("sent", &filter, NULL) != GL_OK)
			gl_log(GL_LOG_DEBUG, NULL,
			       "events: old sent events stay until the next minute");
		bson_reinit(&filter);
	}
	if (events_redis_run(run, sizeof(run)) < 0) {
		bson_destroy(&filter);
		bson_destroy(&update);
		return;
	}
	BSON_APPEND_UTF8(&filter, "_id", "redis");
	if (gl_db_find_one("relay", &filter, &doc) == GL_OK) {
		const char *r = json_string_value(json_object_get(doc, "run_id"));
		seen = strdup(r != NULL ? r : "");
		json_decref(doc);
	}
	if (seen == NULL || strcmp(seen, run) != 0) {
		BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
		BSON_APPEND_UTF8(&set, "run_id", run);
		bson_append_document_end(&update, &set);
		/* One replay per restart, by whoever inserts its marker first (processes see a
		 * restart at the same time: with Redis away, every process runs the tick). */
		if (gl_db_upsert("relay", &filter, &update) == GL_OK && seen != NULL &&
		    events_replay_claim(run) == GL_OK)
			gl_log(GL_LOG_WARN, NULL,
			       "events: Redis restarted: sent again the %zu events of the last %d "
			       "s",
			       events_resend_kept(), GL_EVENTS_KEEP_S);
	}
	free(seen);
	bson_destroy(&filter);
	bson_destroy(&update);
}

void
gl_events_relay(void)
{
	bson_t filter = BSON_INITIALIZER, lte;
	json_t *due, *e;
	bson_oid_t oid;
	size_t i;

	events_replay();

	/* A small collection: only events not sent yet. */
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "staged", &lte);
	BSON_APPEND_INT64(&lte, "$lte", (int64_t)time(NULL) - GL_EVENTS_RELAY_AFTER_S);
	bson_append_document_end(&filter, &lte);
	if (gl_db_find_all(OUTBOX, &filter, 100, &due) != GL_OK) {
		bson_destroy(&filter);
		return;
	}
	bson_destroy(&filter);
	json_array_foreach(due, i, e)
	{
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *family = json_string_value(json_object_get(e, "family"));
		const char *text = json_string_value(json_object_get(e, "event"));
		int proven;

		if (gl_stop_requested())
			break; /* the rest is relayed by the next process */
		proven = outbox_proven(e);
		if (!gl_oid_parse(id, &oid) || proven < 0)
			continue;
		if (proven == 0) {
			gl_log(GL_LOG_INFO, NULL, "events: dropped %s %s: its write did not happen",
			       type, id);
			outbox_forget(&oid);
			continue;
		}
		if (type == NULL || family == NULL || text == NULL ||
		    events_publish(family, id, type, text) < 0)
			break; /* Redis is still away: try again at the next tick */
		if (events_keep(&oid, family, type, text) == 0)
			outbox_forget(&oid);
		gl_log(GL_LOG_INFO, NULL, "events: relayed %s %s", type, id);
	}
	json_decref(due);
}

/* ------------------------------------------------------------------ consuming */

struct events_reader {
	const char *family;
	const struct gl_event_handler *handlers;
	char stream[48];
	char group[48];
	char consumer[64];
};

/* The group, from the start of the stream: a service added later reads what it missed. */
static void
events_group_create(const struct events_reader *rd)
{
	const char *argv[] = { "XGROUP", "CREATE", rd->stream, rd->group, "0", "MKSTREAM" };
	redisReply *r = gl_redis_strv(6, argv);

	if (r != NULL)
		freeReplyObject(r); /* BUSYGROUP (it exists) is fine */
}

static void
events_ack(const struct events_reader *rd, const char *sid)
{
	char tries[112];
	const char *ack[] = { "XACK", rd->stream, rd->group, sid };
	const char *del[] = { "HDEL", tries, sid };
	redisReply *r;

	snprintf(tries, sizeof(tries), "%s:%s:tries", rd->stream, rd->group);
	if ((r = gl_redis_strv(4, ack)) != NULL)
		freeReplyObject(r);
	if ((r = gl_redis_strv(3, del)) != NULL)
		freeReplyObject(r);
}

/* One more failure of entry sid; past GL_EVENTS_TRIES it goes to the dead letters. */
static void
events_failed(const struct events_reader *rd, const char *sid, const char *text, const char *error)
{
	char tries[112], dead[64];
	const char *incr[] = { "HINCRBY", tries, sid, "1" };
	redisReply *r;
	long long n;

	snprintf(tries, sizeof(tries), "%s:%s:tries", rd->stream, rd->group);
	snprintf(dead, sizeof(dead), "%s:dead", rd->stream);
	r = gl_redis_strv(4, incr);
	n = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	if (r != NULL)
		freeReplyObject(r);
	gl_log(GL_LOG_WARN, NULL, "events: %s failed in %s (try %lld): %s", sid, rd->group, n,
	       error);
	if (n < GL_EVENTS_TRIES) {
		gl_metrics_event(GL_METRICS_RETRIED, rd->family, NULL);
		return;
	}
	const char *xadd[] = { "XADD",    dead,    "MAXLEN", "~",     "10000", "*",     "group",
		               rd->group, "entry", sid,      "event", text,    "error", error };
	if ((r = gl_redis_strv(14, xadd)) == NULL || r->type != REDIS_REPLY_STRING) {
		if (r != NULL)
			freeReplyObject(r);
		return; /* not moved: stays pending, tried again */
	}
	freeReplyObject(r);
	gl_log(GL_LOG_ERROR, NULL, "events: %s moved to %s after %lld tries: %s", sid, dead, n,
	       error);
	gl_metrics_event(GL_METRICS_DEAD_LETTERED, rd->family, NULL);
	events_ack(rd, sid);
}

/* Has this service handled event id?  1 yes, 0 no, -1 cannot tell. */
static int
events_handled(const char *id)
{
	bson_t filter = BSON_INITIALIZER;
	json_t *doc;
	enum gl_err err;

	BSON_APPEND_UTF8(&filter, "_id", id);
	err = gl_db_find_one("handled", &filter, &doc);
	bson_destroy(&filter);
	if (err == GL_OK)
		json_decref(doc);
	return err == GL_OK ? 1 : err == GL_E_NOT_FOUND ? 0 : -1;
}

static void
events_mark_handled(const char *id)
{
	bson_t doc = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_UTF8(&doc, "_id", id);
	BSON_APPEND_DATE_TIME(&doc, "at", (int64_t)time(NULL) * 1000);
	err = gl_db_insert("handled", &doc);
	if (err != GL_OK && err != GL_E_CONFLICT)
		gl_log(GL_LOG_WARN, NULL, "events: %s handled but not recorded", id);
	bson_destroy(&doc);
}

/* One stream entry: [sid, [field, value, ...]]. */
static void
events_entry(const struct events_reader *rd, const redisReply *e)
{
	const char *sid, *text, *id, *type;
	const struct gl_event_handler *h;
	json_t *ev;
	enum gl_err err;
	int seen, got = gl_events_decode(e, &sid, &text, &ev);

	if (got < 0)
		return; /* an entry deleted while pending: nothing to handle */
	if (got == 0) {
		events_failed(rd, sid, text != NULL ? text : "", "the entry holds no event");
		return;
	}
	id = json_string_value(json_object_get(ev, "id"));
	type = json_string_value(json_object_get(ev, "type"));
	for (h = rd->handlers; h->type != NULL && strcmp(h->type, type) != 0; h++)
		;
	if (h->type == NULL || (seen = events_handled(id)) == 1) {
		events_ack(rd, sid); /* not ours, or done before */
		json_decref(ev);
		return;
	}
	if (seen < 0) {
		json_decref(ev); /* cannot tell: leave it pending, try again */
		return;
	}
	struct gl_trace_span span; /* a child of the publisher's span, in the event */
	gl_trace_consume_start(&span, ev, rd->stream, rd->group);
	err = h->handle(ev);
	/* Another process changed the same document at the same moment (two events of one
	 * order, followed in parallel): the handler reads it again, a few ms later, rather
	 * than a second later as a counted failure. */
	for (int i = 1; err == GL_E_CONFLICT && i <= 3 && !gl_stop_requested(); i++) {
		const struct timespec wait = { 0, i * 10 * 1000 * 1000 };
		nanosleep(&wait, NULL);
		err = h->handle(ev);
	}
	if (err == GL_OK) {
		events_mark_handled(id);
		events_ack(rd, sid);
		gl_metrics_event(GL_METRICS_CONSUMED, rd->family, type);
		gl_log(GL_LOG_INFO, NULL, "events: handled %s %s", type, id);
	} else
		events_failed(rd, sid, text, gl_err_info(err)->code);
	gl_trace_end(&span, err != GL_OK);
	json_decref(ev);
}

/* Handle the entries of a reply's entry list. */
static void
events_entries(const struct events_reader *rd, const redisReply *list)
{
	if (list == NULL || list->type != REDIS_REPLY_ARRAY)
		return;
	/* Cut short by a stop: what is left stays pending, claimed by another consumer. */
	for (size_t i = 0; i < list->elements && !gl_stop_requested(); i++)
		events_entry(rd, list->element[i]);
}

/* XREADGROUP from id ("0": our own pending entries; ">": new ones); -1 when Redis said no. */
static int
events_read(const struct events_reader *rd, const char *from)
{
	const char *argv[] = { "XREADGROUP", "GROUP",   rd->group,  rd->consumer, "COUNT",
		               "50",         "STREAMS", rd->stream, from };
	redisReply *r = gl_redis_strv(9, argv);
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	         r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
		events_entries(rd, r->element[0]->element[1]);
	freeReplyObject(r);
	return rc;
}

static void
events_reader_init(struct events_reader *rd, const struct gl_event_source *src)
{
	char host[32] = "";

	rd->family = src->family;
	rd->handlers = src->handlers;
	snprintf(rd->stream, sizeof(rd->stream), "galley:events:%s", src->family);
	snprintf(rd->group, sizeof(rd->group), "%s", gl_conf.service);
	gethostname(host, sizeof(host) - 1);
	snprintf(rd->consumer, sizeof(rd->consumer), "%s:%d", host, (int)getpid());
}

/*
 * About once a second: the group again (cheap, and a Redis that restarted
 * empty gets it back at once), what a dead consumer left pending, then our
 * own failures, tried again.
 */
static void
events_upkeep(const struct events_reader *rd)
{
	char idle[16];
	redisReply *r;

	events_group_create(rd);
	snprintf(idle, sizeof(idle), "%d", GL_EVENTS_CLAIM_IDLE_MS);
	const char *claim[] = { "XAUTOCLAIM", rd->stream, rd->group, rd->consumer,
		                idle,         "0-0",      "COUNT",   "20" };
	if ((r = gl_redis_strv(8, claim)) != NULL) {
		if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
			events_entries(rd, r->element[1]);
		freeReplyObject(r);
	}
	if (!gl_stop_requested())
		(void)events_read(rd, "0");
}

/*
 * Wait up to GL_EVENTS_BLOCK_MS for new entries on every stream at once and
 * handle what comes: 0, or -1 when Redis is away or said no (a stream whose
 * group is gone after a restart: the upkeep makes it again).
 */
static int
events_wait(const struct events_reader *rd, size_t n)
{
	const char *argv[8 + 2 * GL_EVENTS_SOURCES_MAX];
	size_t lens[8 + 2 * GL_EVENTS_SOURCES_MAX];
	char block[16];
	int argc = 0, rc = 0;
	redisReply *r;

	snprintf(block, sizeof(block), "%d", GL_EVENTS_BLOCK_MS);
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
	if ((r = gl_redis_block(GL_EVENTS_BLOCK_MS, argc, argv, lens)) == NULL)
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
				if (strcmp(s->element[0]->str, rd[j].stream) == 0)
					events_entries(&rd[j], s->element[1]);
		}
	freeReplyObject(r);
	return rc;
}

/* Redis is away: half a second before asking again, cut short by a stop. */
static void
events_nap(void)
{
	const struct timespec slice = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < 5 && !gl_stop_requested(); i++)
		nanosleep(&slice, NULL);
}

void
gl_events_run(const struct gl_event_source *sources)
{
	struct events_reader rd[GL_EVENTS_SOURCES_MAX];
	long long upkeep_at = 0;
	size_t n = 0;

	for (; n < GL_EVENTS_SOURCES_MAX && sources[n].family != NULL; n++)
		events_reader_init(&rd[n], &sources[n]);
	if (sources[n].family != NULL)
		gl_log(GL_LOG_ERROR, NULL, "events: only %d streams are followed",
		       GL_EVENTS_SOURCES_MAX);
	while (n > 0 && !gl_stop_requested()) {
		if (gl_now_us() >= upkeep_at) {
			for (size_t i = 0; i < n && !gl_stop_requested(); i++)
				events_upkeep(&rd[i]);
			upkeep_at = gl_now_us() + 1000000;
		}
		if (!gl_stop_requested() && events_wait(rd, n) < 0) {
			upkeep_at = 0;
			events_nap();
		}
	}
}

/* ------------------------------------------------------------------ decoding (events.h) */

int
gl_events_decode(const redisReply *e, const char **sid, const char **text, json_t **event)
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
