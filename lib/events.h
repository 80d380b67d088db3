/*
 * events: the events a service's writes imply (API.md, events), published
 * to a Redis stream per type family ("galley:events:orders", capped with
 * MAXLEN ~) and to pub/sub ("galley:live:orders") for live views.
 *
 * Streams, staged events and handled ids live in the store, the Redis whose
 * AOF is on (redis.h), so a SIGKILL of it loses none of them.  A write to
 * MongoDB and its event are durable together, with the process dying at any
 * point:
 *
 *   ev = gl_events_stage(...)   the event is staged in the store's outbox
 *                               ("galley:outbox:<service>"), with a proof:
 *                               the document and the version the write will
 *                               give it
 *   ...the write...
 *   gl_events_send(ev)          one script: XADD, out of the outbox, PUBLISH
 *
 * If sending fails (the store away), or the write's outcome is unknown
 * (gl_events_leave), or the process dies, the service's tick
 * (gl_events_relay) sends the staged event later if its proof holds (the
 * write happened), and drops it if not.  Delivery is at least once (a
 * relay may send what a request sent a moment before), so consumers dedupe
 * by event id.  Nothing here costs a MongoDB round trip but the relay's
 * proof check of an event left behind.
 *
 * When the proof's collection is kept in the store (kept.h), the same calls
 * cost no outbox: the staged event "rides" with its write, which kept.c
 * makes as one script that also adds the event to its stream and tells
 * live views, so the write and its event happen together or not at all
 * (gl_events_send then only counts it; drop and leave only free it).  The
 * write that carries it is the one to the proof's document that gives it
 * the proof's version, made by the same thread.
 *
 * An event is {id, type, occurred_at, request_id, data}; its id is an
 * ObjectId string.  Ownership: gl_events_stage() steals data; the returned
 * event is owned by the caller until gl_events_send() or gl_events_drop().
 */
#ifndef GL_EVENTS_H
#define GL_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct gl_req;

/* Staged events older than this are the relay's (their request has had time to send them). */
#define GL_EVENTS_RELAY_AFTER_S 5
/* A handled event's id is kept this long: redeliveries (claims, relays) come within minutes. */
#define GL_EVENTS_HANDLED_KEEP_S 86400
/* Each family's stream keeps about this many entries. */
#define GL_EVENTS_MAXLEN "100000"

/* What the write makes true: coll's document id (24 hex) is at version >= version. */
struct gl_event_proof {
	const char *coll;
	const char *id;
	long long version;
};

struct gl_event;

/*
 * Store the event type (e.g. "order.created") with data (stolen) in the
 * store's outbox, before the write it announces.  req (may be NULL) gives the
 * request id.  NULL with *err set when it could not be stored: do not
 * make the write then.
 */
struct gl_event *gl_events_stage(const struct gl_req *req, const char *type, json_t *data,
                                 const struct gl_event_proof *proof, enum gl_err *err);

/* After the write: publish now if the store answers (else the relay will), and free ev. */
void gl_events_send(struct gl_event *ev);

/* The write did not happen: forget the staged event, and free ev. */
void gl_events_drop(struct gl_event *ev);

/* Whether the write happened is not known: leave the event to the relay, and free ev. */
void gl_events_leave(struct gl_event *ev);

/*
 * An event a script in the store adds itself, in the same step as the state
 * it announces (no outbox: the script is atomic and the store durable).
 * gl_events_new() steals data; the script XADDs gl_events_text(ev) to
 * gl_events_stream(ev) with fields id, type, event (MAXLEN ~
 * GL_EVENTS_MAXLEN); gl_events_added() then counts it if it was added, and
 * frees ev.
 */
struct gl_event *gl_events_new(const struct gl_req *req, const char *type, json_t *data);
const char *gl_events_id(const struct gl_event *ev);
const char *gl_events_stream(const struct gl_event *ev);
const char *gl_events_text(const struct gl_event *ev);
void gl_events_added(struct gl_event *ev, bool added);

/* Events one thread may have riding at once; more are staged in the outbox. */
#define GL_EVENTS_RIDERS_MAX 4

/*
 * For kept.c: the events riding on the write that gives coll's document id
 * (24 hex) version, at most max of them, borrowed, into out; after the
 * script that added them answered that it wrote, gl_events_rode() each.
 */
size_t gl_events_riding(const char *coll, const char *id, long long version, struct gl_event **out,
                        size_t max);
void gl_events_rode(struct gl_event *ev);
const char *gl_events_type(const struct gl_event *ev);
const char *gl_events_live(const struct gl_event *ev); /* its pub/sub channel */

/* The tick's part: send or drop what requests left staged. */
void gl_events_relay(void);

/*
 * Consuming.  Each service reads a family's stream through its own consumer
 * group (named after the service), each process as its own consumer, so an
 * event waits for a service that is down and goes to one of its processes.
 * Events are pushed: a thread of each process (lib/app) blocks on all its
 * streams at once (XREADGROUP ... BLOCK on a connection of its own) and
 * handles an entry the moment it is added.  An event is acknowledged after
 * its handler succeeded.  A failed one is tried again about a second later,
 * and after GL_EVENTS_TRIES failures it moves to
 * "galley:events:<family>:dead" with the error, and the consumer goes on.
 * Entries left pending by a consumer that died are claimed by a live one
 * after GL_EVENTS_CLAIM_IDLE_MS.  Handlers see each event id once (the ids
 * a service handled are kept in the store, "galley:handled:<service>:<id>",
 * for GL_EVENTS_HANDLED_KEEP_S), and must still be idempotent: a process may
 * die between a handler's work and that record.
 */
#define GL_EVENTS_TRIES         5
#define GL_EVENTS_CLAIM_IDLE_MS 10000
#define GL_EVENTS_BLOCK_MS      1000 /* so a stop is seen within about a second */
#define GL_EVENTS_SOURCES_MAX   4

/* Handle one event (borrowed, the whole {id, type, ..., data}); GL_OK acknowledges it. */
typedef enum gl_err (*gl_event_handle)(const json_t *event);

struct gl_event_handler {
	const char *type; /* "order.cancelled" */
	gl_event_handle handle;
	/* Handling it twice does no harm (a push to live views, which keep the newest
	 * version): no handled record is kept, and it is acknowledged with the entries
	 * the service skips, so it costs the store no write of its own. */
	bool unrecorded;
};

/* A stream a service follows: a table of these ends with a zero row. */
struct gl_event_source {
	const char *family;                      /* "orders": galley:events:orders */
	const struct gl_event_handler *handlers; /* ends with a zero row */
};

/* The consumer thread's loop (lib/app runs it): handle what comes on every source's
 * stream until the process is asked to stop (stop.h). */
void gl_events_run(const struct gl_event_source *sources);

/*
 * The pure first step of consuming (exposed for tests and fuzzing): decode
 * one stream entry e (borrowed), [sid, [field, value, ...]] as XREADGROUP
 * and XAUTOCLAIM give it.  -1: e is no entry (one deleted while pending),
 * nothing set.  0: *sid set, *text the "event" field (or NULL), *event NULL:
 * the entry holds no event (no JSON with string "id", of 64 bytes at most,
 * and string "type").  1: *sid, *text set and *event new, such an event.
 * *sid and *text are borrowed from e.
 */
struct redisReply;
int gl_events_decode(const struct redisReply *e, const char **sid, const char **text,
                     json_t **event) __attribute__((warn_unused_result));

#endif
