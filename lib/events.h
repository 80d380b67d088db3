/*
 * events: the events a service's writes imply (API.md, events), published
 * to a Redis stream per type family ("galley:events:orders", capped with
 * MAXLEN ~) and to pub/sub ("galley:live:orders") for live views.
 *
 * A write and its event are durable together, with Redis away or the
 * process dying at any point:
 *
 *   ev = gl_events_stage(...)   the event is stored in MongoDB ("outbox"),
 *                               with a proof: the document and the version
 *                               the write will give it
 *   ...the write...
 *   gl_events_send(ev)          XADD + PUBLISH now, then the outbox entry goes
 *
 * If sending fails (Redis away), or the write's outcome is unknown
 * (gl_events_leave), or the process dies, the service's tick
 * (gl_events_relay) sends the staged event later if its proof holds (the
 * write happened), and drops it if not.  Delivery is at least once: a
 * relay that dies after XADD sends again, so consumers dedupe by event id.
 *
 * An event is {id, type, occurred_at, request_id, data}; its id is an
 * ObjectId string.  Ownership: gl_events_stage() steals data; the returned
 * event is owned by the caller until gl_events_send() or gl_events_drop().
 */
#ifndef GL_EVENTS_H
#define GL_EVENTS_H

#include <jansson.h>

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
 * outbox, before the write it announces.  req (may be NULL) gives the
 * request id.  NULL with *err set when it could not be stored: do not
 * make the write then.
 */
struct gl_event *gl_events_stage(const struct gl_req *req, const char *type, json_t *data,
                                 const struct gl_event_proof *proof, enum gl_err *err);

/* After the write: publish now if Redis answers (else the relay will), and free ev. */
void gl_events_send(struct gl_event *ev);

/* The write did not happen: forget the staged event, and free ev. */
void gl_events_drop(struct gl_event *ev);

/* Whether the write happened is not known: leave the event to the relay, and free ev. */
void gl_events_leave(struct gl_event *ev);

/* The tick's part: send or drop what requests left staged. */
void gl_events_relay(void);

#endif
