/*
 * Kitchen (API.md, kitchen): simulated staff prepare paid orders.
 *
 *   order.paid ──► ticket "paid" ──► a cook takes it ──► "preparing" ──► "ready"
 *                  (+ queue entry)    (a guarded write) order.preparing  order.ready
 *   staff: POST .../complete: "ready" ──► "completed", order.completed
 *   order.cancelled: a ticket not yet ready ──► "cancelled" (the cook stops)
 *
 * A ticket's _id is its order's ObjectId, so a repeated order.paid inserts
 * nothing new.  Every process runs gl_conf.kitchen_staff cooks (threads, see
 * staff.c); any cook of any process may take any ticket, and none may
 * prepare one twice.  Tickets are kept in the store (lib/kept.h), where a
 * write guarded by the version read is one script, atomic: of two writers
 * that read one version exactly one wins, and the loser reads again.  The
 * rules that must not race rest on that alone:
 *  - a cook takes a ticket by writing it "preparing", attempt n + 1, held
 *    until "lease_until" (the start + items × seconds per item +
 *    KITCHEN_LEASE_MARGIN_S).  A ticket preparing under a live lease is
 *    its cook's; once the lease is over (the cook died), the next cook takes
 *    attempt n + 2, and the first cook's later writes are refused (the
 *    version moved), so exactly one attempt is live at a time.  A cook whose
 *    process stops ends its lease at once ("handed back").
 *  - how preparing ends, "ready" (the cook) or "cancelled" (order.cancelled),
 *    is whichever write lands first: the other is refused, reads the ticket
 *    again and finds it settled, so a cancelled ticket is never made ready
 *    and a ready one is never cancelled.  An order cancelled after it was
 *    paid but before its ticket came gets its ticket at once, cancelled
 *    (from the lines order.cancelled carries): the order.paid after it then
 *    inserts nothing (the _id is taken) and no cook prepares it.
 * (Until 2026-12 these were claims, keys taken once in the store beside
 * the ticket: two round trips more a ticket, from when tickets were written
 * in MongoDB, whose guarded update is not atomic.)
 *
 * Events: order.preparing when a paid ticket is first taken (a cook that
 * takes over a ticket already preparing announces nothing: the order's
 * state does not change), order.ready, order.completed, each staged in the
 * outbox with the write it announces (lib/events.h).  A ticket keeps the
 * traceparent of the handling of its order.paid, and a cook prepares it in
 * a span of that trace (lib/trace.h), so the events it announces belong to
 * the order's trace.
 *
 * No scans of "tickets": FerretDB pushes only _id filters down to SQLite,
 * and tickets grow without end.  What needs a cook is the due list "queue"
 * (lib/due.h, a sorted set in the store): an entry is added with the ticket (due
 * now), put off to the lease's end while a cook holds the ticket (so it
 * comes up again only if that cook dies), and dropped when preparing ends.
 * Idle cooks ask it for what is due about once a second.
 */
#ifndef KITCHEN_H
#define KITCHEN_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "consumer.h"
#include "req.h"
#include "valid.h"

#define KITCHEN_LEASE_MARGIN_S 10   /* a lease outlives the cooking time by this much */
#define KITCHEN_IDLE_MS        1000 /* an idle cook looks for work this often */
#define KITCHEN_PICK_HOLD_S    2    /* a picked ticket's entry is passed by while it starts */
#define KITCHEN_STEP_MS        200  /* a cooking cook notices a stop this quickly */
#define KITCHEN_CHECK_STEPS    5    /* and re-reads its ticket every this many steps */
#define KITCHEN_COOK_MAX       96   /* "<host>:<pid>:<n>" */

extern const struct gl_field ticket_query[];

/* tickets.c: the routes */
enum gl_err ticket_list(struct gl_req *req);
enum gl_err ticket_get(struct gl_req *req);
enum gl_err ticket_complete(struct gl_req *req);

/* move.c: a ticket moved to a status, with its event; shared by routes, events and cooks */
bool ticket_status_is(const json_t *doc, const char *status);
/*
 * Move the ticket doc (borrowed, as read) to status, with the fields of
 * extra (borrowed, may be NULL) and updated_at, if it is still at the
 * version read; event (may be NULL) is the type announcing the change,
 * staged before the write.  *out (new) is the ticket after; out may be
 * NULL.  GL_E_CONFLICT when the ticket changed since it was read.
 */
enum gl_err ticket_move(const struct gl_req *req, const json_t *doc, const char *status,
                        const bson_t *extra, const char *event, json_t **out)
        __attribute__((warn_unused_result));

/* queue.c: what needs a cook, when */
/* List ticket id as due at due (epoch s); GL_OK also when it is listed already. */
enum gl_err queue_add(const bson_oid_t *id, int64_t due) __attribute__((warn_unused_result));
/* The same entry for the ticket's own insert (db.h, gl_db_insert_indexed); 0, or -1. */
struct gl_kept_index;
int queue_index(struct gl_kept_index *e, const bson_oid_t *id, int64_t due);
/* Move id's entry to due (a lease's end). */
void queue_defer(const bson_oid_t *id, int64_t due);
/* Drop id's entry (preparing ended). */
void queue_drop(const bson_oid_t *id);
/* A drop or a move with the ticket's next write that lands (due.h, gl_due_drop_riding),
 * ended by queue_riding_end(apply). */
void queue_drop_riding(const bson_oid_t *id);
void queue_defer_riding(const bson_oid_t *id, int64_t due);
void queue_riding_end(bool apply);
/* One entry due now, at random among the first max (<= GL_DUE_MAX), and its ticket read
 * with it, the entry put off KITCHEN_PICK_HOLD_S (due.h, gl_due_pick): *listed false when
 * none is due. */
enum gl_err queue_pick(size_t max, bool *listed, bson_oid_t *id, json_t **ticket)
        __attribute__((warn_unused_result));

/* cook.c: one cook's work */
/* Take a ticket due that this cook can take and prepare it; false when none was. */
bool cook_work(const char *cook);

/* staff.c: the cook threads of this process */
/* The service's init: start gl_conf.kitchen_staff cooks; 0, or -1 (logged). */
int kitchen_staff_start(void);
/* Stop and join the cooks (idempotent; they stop within KITCHEN_STEP_MS plus a write). */
void kitchen_staff_stop(void);
/* Wake one idle cook of this process (a ticket was just added). */
void kitchen_staff_wake(void);
/* Is this process stopping? */
bool kitchen_stopping(void);
/* Sleep ms, or less when the process stops; true when it stops. */
bool kitchen_nap(int ms);

/* events.c: the events kitchen follows (the service's gl_service.events), and the tick. */
extern const struct gl_event_source kitchen_events[];
void kitchen_tick(void);

#endif
