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
 *
 * This is the writer's side (what a service announces); following other
 * services' streams is the reader's, consumer.h.
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

#endif
