/*
 * consumer: following other services' events (API.md, events), the
 * reader's side of events.h.
 *
 * Each service reads a family's stream through its own consumer group
 * (named after the service), each process as its own consumer, so an event
 * waits for a service that is down and goes to one of its processes.
 * Events are pushed: a thread of each process (lib/tick) blocks on all its
 * streams at once (XREADGROUP ... BLOCK on a connection of its own) and
 * handles an entry the moment it is added.
 *
 * A handler declares the shape of its event's data as a field table
 * (valid.h), as a route declares its body: the consumer checks the data
 * against it before the handler runs, so a handler only sees the fields it
 * declared, of their types and ranges.  Data that does not fit can never be
 * handled: it moves to the dead letters (below) at once, with the error
 * validation_failed; the field and why are logged.
 *
 * An event is acknowledged after its handler succeeded.  A failed one is
 * tried again about a second later, and after GL_CONSUMER_TRIES failures it
 * moves to "galley:events:<family>:dead" with the error, and the consumer
 * goes on.  Entries left pending by a consumer that died are claimed by a
 * live one after GL_CONSUMER_CLAIM_IDLE_MS.  Handlers see each event id
 * once (the ids a service handled are kept in the store,
 * "galley:handled:<service>:<id>", for GL_CONSUMER_HANDLED_KEEP_S, and asked
 * for all the entries of a read at once), and
 * must still be idempotent: a process may die between a handler's work and
 * that record.
 *
 * Ownership: the tables are the service's (static); a handler borrows the
 * event it is given for the length of the call.
 */
#ifndef GL_CONSUMER_H
#define GL_CONSUMER_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "valid.h"

#define GL_CONSUMER_TRIES         5
#define GL_CONSUMER_CLAIM_IDLE_MS 10000
#define GL_CONSUMER_BLOCK_MS      1000 /* so a stop is seen within about a second */
#define GL_CONSUMER_SOURCES_MAX   4
/* The streams a consumer group follows (a set of their keys): each process adds its streams when
 * it makes its groups, so that /metrics (metrics_text.c) reads their groups without scanning
 * the store's keys, a cost that would grow with what the store holds. */
#define GL_CONSUMER_STREAMS "galley:consumer:streams"
/* A handled event's id is kept this long: redeliveries (claims, relays) come within minutes. */
#define GL_CONSUMER_HANDLED_KEEP_S 86400

/* Handle one event (borrowed, the whole {id, type, ..., data}); GL_OK acknowledges it. */
typedef enum gl_err (*gl_event_handle)(const json_t *event);

/*
 * Handle the n events of one read at once (borrowed, each of a type in the source's table and
 * its data checked against that row's table, in the stream's order), e.g. in one script
 * where each would be a round trip of its own: errs[i] is event i's outcome, as a handler's
 * would be (GL_OK acknowledges it).  n is at most GL_CONSUMER_BATCH_MAX.
 */
#define GL_CONSUMER_BATCH_MAX 50
typedef void (*gl_event_handle_batch)(const json_t *const *events, size_t n, enum gl_err *errs);

struct gl_event_handler {
	const char *type;       /* "order.cancelled" */
	gl_event_handle handle; /* NULL when its source has handle_batch */
	/* The fields of the event's data the handler reads (NULL: it reads none).  End the
	 * table with { .flags = GL_OPEN }, and the tables of its objects too: the services
	 * that publish may add fields, which the handler lets be. */
	const struct gl_field *data;
	/* Handling it twice does no harm (a push to live views, which keep the newest
	 * version): no handled record is kept, and it is acknowledged with the entries
	 * the service skips, so it costs the store no write of its own. */
	bool unrecorded;
	/* The acknowledgement rides on the handler's write: its one write of a kept
	 * document (kept.h) is the last of its steps that must happen, so the script that
	 * writes the document also marks the event handled and acknowledges it, a round
	 * trip and a flush of the store fewer per event.  What the handler does after that
	 * write is let go when it fails (a push to live views, a due entry its tick drops
	 * anyway).  A handler that writes nothing (the event changes nothing) is
	 * acknowledged as usual. */
	bool ack_rides;
};

/* A stream a service follows: a table of these ends with a zero row. */
struct gl_event_source {
	const char *family;                      /* "orders": galley:events:orders */
	const struct gl_event_handler *handlers; /* ends with a zero row */
	/* After a read that brought entries, the process waits this long (ms; 0: not at all)
	 * before it reads again, so that a busy stream comes in batches: one read and one
	 * wake-up for many entries, where each would otherwise wake a process of its own.
	 * What the service handles then waits up to this long.  For a service that handles
	 * few of the family's types (most of its reads bring only entries it skips) and whose
	 * handling nobody waits on; a process following several streams waits the least of
	 * theirs. */
	int gather_ms;
	/* After a read that brought entries but none of a type this service handles, the
	 * process waits this long (ms; 0: not at all) before it reads again: what it skips
	 * then comes in one read, not a wake-up each, and what it handles waits at most this
	 * long, only after such a read.  For a service whose handling someone waits on (orders,
	 * the kitchen), a few ms; a process following several streams waits the least. */
	int skip_gather_ms;
	/* Not NULL: the handlers' rows name the types and their data, and this handles what a
	 * read brings of them (gl_event_handle_batch).  Only for rows that are unrecorded
	 * (the batch marks its events itself): each is acknowledged with the entries the
	 * service skips. */
	gl_event_handle_batch handle_batch;
};

/* The consumer thread's loop (lib/tick runs it): handle what comes on every source's
 * stream until the process is asked to stop (stop.h). */
void gl_consumer_run(const struct gl_event_source *sources);

/*
 * For kept.c: the acknowledgement of the event this thread handles, while its handler lets
 * it ride (ack_rides) and no write has carried it yet: what the write's script does with it
 * is SET handled 1 EX keep, XACK stream group sid, HDEL tries sid.  NULL otherwise.  All
 * borrowed, valid while the handler runs.
 */
struct gl_consumer_ack {
	const char *stream, *tries, *handled; /* keys */
	const char *group, *sid, *keep;
};
const struct gl_consumer_ack *gl_consumer_ack_riding(void);
/* The write that carried it was made: the event is handled and acknowledged. */
void gl_consumer_ack_rode(void);

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
int gl_consumer_decode(const struct redisReply *e, const char **sid, const char **text,
                       json_t **event) __attribute__((warn_unused_result));

/*
 * The second step (exposed for tests and fuzzing): check event's data
 * (borrowed) against h's table.  GL_OK, or GL_E_VALIDATION with *fail
 * saying where and why.
 */
enum gl_err gl_consumer_check(const struct gl_event_handler *h, const json_t *event,
                              struct gl_valid_fail *fail) __attribute__((warn_unused_result));

/*
 * A failure's count (exposed for tests): one more failure of entry sid of group on stream,
 * counted in "<stream>:<group>:tries" only while the entry is still pending there.  The
 * count after it; 0 when the entry is no longer pending (a handler's write carried its
 * acknowledgement and only the reply was lost: nothing to try again, and no count is left
 * behind); -1 when the store did not answer.
 */
long long gl_consumer_failure_count(const char *stream, const char *group, const char *sid)
        __attribute__((warn_unused_result));

#endif
