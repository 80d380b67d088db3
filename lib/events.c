#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "events.h"
#include "json.h"
#include "kept.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "req.h"
#include "stop.h"
#include "trace.h"

struct gl_event {
	bson_oid_t oid;
	char id[25];
	char type[48];
	char family[16];
	char stream[48];
	char live[48];             /* its pub/sub channel, for live views */
	char *text;                /* the event as JSON, as it is sent */
	struct gl_trace_span span; /* publishing it, from stage to send, drop or leave */
	/* Staged on a write to a kept collection: it rides with that write (no outbox). */
	bool rides, added;
	char proof_coll[32];
	char proof_id[25];
	long long proof_version;
};

/* This thread's riding events, not yet sent, dropped or left. */
static __thread struct gl_event *riders[GL_EVENTS_RIDERS_MAX];

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
	for (size_t i = 0; i < GL_EVENTS_RIDERS_MAX; i++)
		if (riders[i] == ev)
			riders[i] = NULL;
	gl_trace_end(&ev->span, false);
	free(ev->text);
	free(ev);
}

/* The service's staged events in the store: a hash of event id → outbox entry (JSON). */
static void
outbox_key(char *buf, size_t size)
{
	snprintf(buf, size, "galley:outbox:%s", gl_conf.service);
}

/* A new event of type with data (stolen), its text made; NULL (logged) when it cannot be. */
static struct gl_event *
events_make(const struct gl_req *req, const char *type, json_t *data)
{
	struct gl_event *ev = calloc(1, sizeof(*ev));
	json_t *j;
	char at[32], traceparent[GL_TRACE_PARENT_SIZE];

	if (ev == NULL || strlen(type) >= sizeof(ev->type) ||
	    events_family(type, ev->family, sizeof(ev->family)) < 0) {
		gl_log(GL_LOG_ERROR, NULL, "events: cannot make %s", type);
		json_decref(data);
		free(ev);
		return NULL;
	}
	bson_oid_init(&ev->oid, NULL);
	bson_oid_to_string(&ev->oid, ev->id);
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	snprintf(ev->stream, sizeof(ev->stream), "galley:events:%s", ev->family);
	snprintf(ev->live, sizeof(ev->live), "galley:live:%s", ev->family);
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
	return ev;
}

struct gl_event *
gl_events_new(const struct gl_req *req, const char *type, json_t *data)
{
	return events_make(req, type, data);
}

const char *
gl_events_id(const struct gl_event *ev)
{
	return ev->id;
}

const char *
gl_events_stream(const struct gl_event *ev)
{
	return ev->stream;
}

const char *
gl_events_text(const struct gl_event *ev)
{
	return ev->text;
}

void
gl_events_added(struct gl_event *ev, bool added)
{
	if (ev == NULL)
		return;
	if (added)
		gl_metrics_event(GL_METRICS_PUBLISHED, ev->family, ev->type);
	events_free(ev);
}

/* Let ev ride with the write proof names, if this thread has room for one more. */
static bool
events_ride(struct gl_event *ev, const struct gl_event_proof *proof)
{
	for (size_t i = 0; i < GL_EVENTS_RIDERS_MAX; i++)
		if (riders[i] == NULL) {
			ev->rides = true;
			snprintf(ev->proof_coll, sizeof(ev->proof_coll), "%s", proof->coll);
			snprintf(ev->proof_id, sizeof(ev->proof_id), "%s", proof->id);
			ev->proof_version = proof->version;
			riders[i] = ev;
			return true;
		}
	return false;
}

size_t
gl_events_riding(const char *coll, const char *id, long long version, struct gl_event **out,
                 size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < GL_EVENTS_RIDERS_MAX && n < max; i++)
		if (riders[i] != NULL && !riders[i]->added && riders[i]->proof_version == version &&
		    strcmp(riders[i]->proof_coll, coll) == 0 &&
		    strcmp(riders[i]->proof_id, id) == 0)
			out[n++] = riders[i];
	return n;
}

void
gl_events_rode(struct gl_event *ev)
{
	ev->added = true;
}

const char *
gl_events_type(const struct gl_event *ev)
{
	return ev->type;
}

const char *
gl_events_live(const struct gl_event *ev)
{
	return ev->live;
}

struct gl_event *
gl_events_stage(const struct gl_req *req, const char *type, json_t *data,
                const struct gl_event_proof *proof, enum gl_err *err)
{
	struct gl_event *ev;
	bson_oid_t subject;
	json_t *j;
	char key[96], *entry;
	redisReply *r;

	*err = GL_E_INTERNAL;
	if (!gl_oid_parse(proof->id, &subject)) {
		gl_log(GL_LOG_ERROR, NULL, "events: cannot stage %s", type);
		json_decref(data);
		return NULL;
	}
	if ((ev = events_make(req, type, data)) == NULL)
		return NULL;
	if (gl_kept_is(proof->coll) && strlen(proof->coll) < sizeof(ev->proof_coll) &&
	    events_ride(ev, proof)) {
		*err = GL_OK;
		return ev;
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s, s:I}}", "type", ev->type, "family",
	              ev->family, "event", ev->text, "staged", (json_int_t)time(NULL), "proof",
	              "coll", proof->coll, "id", proof->id, "version", (json_int_t)proof->version);
	entry = j != NULL ? gl_json_dump_new(j) : NULL;
	json_decref(j);
	if (entry == NULL) {
		events_free(ev);
		return NULL;
	}
	outbox_key(key, sizeof(key));
	const char *hset[] = { "HSET", key, ev->id, entry };
	r = gl_redis_strv(GL_REDIS_STORE, 4, hset);
	free(entry);
	*err = r == NULL                        ? GL_E_UPSTREAM_DOWN
	       : r->type == REDIS_REPLY_INTEGER ? GL_OK
	                                        : GL_E_INTERNAL;
	if (r != NULL)
		freeReplyObject(r);
	if (*err != GL_OK) {
		gl_log(GL_LOG_WARN, NULL, "events: %s not staged: the store did not take it", type);
		events_free(ev);
		return NULL;
	}
	return ev;
}

/*
 * Publish a staged event, in one step that cannot half-happen: add it to
 * its family's stream, take it out of the outbox, and tell live views
 * (pub/sub keeps nothing: a view may miss one, the stream has it).
 */
static const char events_send_lua[] =
        "local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',"
        " 'id', ARGV[2], 'type', ARGV[3], 'event', ARGV[4]) "
        "redis.call('HDEL', KEYS[2], ARGV[2]) "
        "redis.call('PUBLISH', KEYS[3], ARGV[4]) "
        "return sid";

/* 0, or -1 when the store said no or is away (the event stays staged). */
static int
events_publish(const char *family, const char *id, const char *type, const char *text)
{
	char stream[48], outbox[96], channel[48];
	redisReply *r;
	int ok;

	snprintf(stream, sizeof(stream), "galley:events:%s", family);
	snprintf(channel, sizeof(channel), "galley:live:%s", family);
	outbox_key(outbox, sizeof(outbox));
	const char *argv[] = { "EVAL",  events_send_lua,  "3", stream, outbox,
		               channel, GL_EVENTS_MAXLEN, id,  type,   text };
	r = gl_redis_strv(GL_REDIS_STORE, 10, argv);
	ok = r != NULL && r->type == REDIS_REPLY_STRING;
	if (r != NULL && !ok)
		gl_log(GL_LOG_ERROR, NULL, "events: %s %s not sent: %s", type, id,
		       r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	if (!ok)
		return -1;
	gl_metrics_event(GL_METRICS_PUBLISHED, family, type);
	return 0;
}

static void
outbox_forget(const char *id)
{
	char key[96];
	redisReply *r;

	outbox_key(key, sizeof(key));
	const char *argv[] = { "HDEL", key, id };
	if ((r = gl_redis_strv(GL_REDIS_STORE, 3, argv)) != NULL)
		freeReplyObject(r);
	else
		gl_log(GL_LOG_WARN, NULL, "events: an outbox entry stays; the relay settles it");
}

void
gl_events_send(struct gl_event *ev)
{
	if (ev == NULL)
		return;
	if (ev->added) {
		gl_metrics_event(GL_METRICS_PUBLISHED, ev->family, ev->type);
		events_free(ev);
		return;
	}
	/* A rider whose write went another way than its proof said: sent now, not atomic
	 * with the write (a bug to fix where the write is made). */
	if (ev->rides)
		gl_log(GL_LOG_ERROR, NULL, "events: %s %s did not ride with its write", ev->type,
		       ev->id);
	if (events_publish(ev->family, ev->id, ev->type, ev->text) < 0)
		gl_log(GL_LOG_WARN, NULL, "events: %s %s waits in the outbox", ev->type, ev->id);
	events_free(ev);
}

void
gl_events_drop(struct gl_event *ev)
{
	if (ev == NULL)
		return;
	if (!ev->rides)
		outbox_forget(ev->id);
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

/* Send or drop one outbox entry (its id, its JSON); -1 when the rest should wait. */
static int
outbox_settle(const char *id, const json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *family = json_string_value(json_object_get(e, "family"));
	const char *text = json_string_value(json_object_get(e, "event"));
	int proven = outbox_proven(e);

	if (proven < 0)
		return 0; /* MongoDB cannot tell now: the next tick asks again */
	if (proven == 0 || type == NULL || family == NULL || text == NULL) {
		gl_log(GL_LOG_INFO, NULL, "events: dropped %s %s: its write did not happen",
		       type != NULL ? type : "an event", id);
		outbox_forget(id);
		return 0;
	}
	if (events_publish(family, id, type, text) < 0)
		return -1;
	gl_log(GL_LOG_INFO, NULL, "events: relayed %s %s", type, id);
	return 0;
}

/*
 * Before the store, staged events waited in MongoDB ("outbox"); what an
 * older version left there is sent (or dropped) once, by the first relay of
 * each process.
 */
static void
outbox_legacy(void)
{
	static _Thread_local bool done;
	bson_t filter = BSON_INITIALIZER;
	json_t *due, *e;
	bson_oid_t oid;
	size_t i;

	if (done || gl_db_find_all("outbox", NULL, 1000, &due) != GL_OK)
		return;
	json_array_foreach(due, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		if (gl_stop_requested() || id == NULL || !gl_oid_parse(id, &oid) ||
		    outbox_settle(id, e) < 0) {
			json_decref(due);
			return;
		}
		bson_reinit(&filter);
		BSON_APPEND_OID(&filter, "_id", &oid);
		if (gl_db_delete_where("outbox", &filter, NULL) != GL_OK)
			break;
	}
	bson_destroy(&filter);
	json_decref(due);
	done = true;
}

void
gl_events_relay(void)
{
	static _Thread_local char cursor[32] = "0";
	char key[96];
	time_t cut = time(NULL) - GL_EVENTS_RELAY_AFTER_S;
	redisReply *r;

	outbox_legacy();
	/* The outbox holds only what is in flight: a scan step a tick goes round it. */
	outbox_key(key, sizeof(key));
	const char *argv[] = { "HSCAN", key, cursor, "COUNT", "100" };
	r = gl_redis_strv(GL_REDIS_STORE, 5, argv);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return;
	}
	snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
	for (size_t i = 0; i + 1 < r->element[1]->elements && !gl_stop_requested(); i += 2) {
		const redisReply *k = r->element[1]->element[i], *v = r->element[1]->element[i + 1];
		json_t *e = v->type == REDIS_REPLY_STRING ? json_loads(v->str, 0, NULL) : NULL;
		int stop = 0;

		if (k->type == REDIS_REPLY_STRING && e != NULL &&
		    json_integer_value(json_object_get(e, "staged")) <= cut)
			stop = outbox_settle(k->str, e) < 0;
		else if (k->type == REDIS_REPLY_STRING && e == NULL)
			outbox_forget(k->str); /* not an entry this code wrote */
		json_decref(e);
		if (stop)
			break; /* the store is away: the next tick tries again */
	}
	freeReplyObject(r);
}
