/* One cook's work: take a ticket, prepare it, announce it (kitchen.h). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "doc.h"
#include "kitchen.h"
#include "log.h"
#include "trace.h"

#define COOK_DUE_MAX     32 /* queue entries a cook looks at per pass */
#define COOK_WRITE_TRIES 3  /* re-reads after a concurrent change of the ticket */

/* Seconds a ticket takes: items × seconds per item. */
static int64_t
cook_seconds(const json_t *doc)
{
	return json_integer_value(json_object_get(doc, "items")) * gl_conf.kitchen_seconds_per_item;
}

static long long
cook_attempt(const json_t *doc)
{
	return json_integer_value(json_object_get(doc, "attempt"));
}

/*
 * Until when (epoch s) the cook of preparing ticket doc holds it: its
 * lease_until; a ticket started by a kitchen from before leases were kept
 * in the ticket has none: its start + cooking time + the margin.
 */
static int64_t
cook_lease_end(const json_t *doc)
{
	int64_t t;

	if (gl_doc_time_parse(json_string_value(json_object_get(doc, "lease_until")), &t))
		return t;
	if (gl_doc_time_parse(json_string_value(json_object_get(doc, "started_at")), &t))
		return t + cook_seconds(doc) + KITCHEN_LEASE_MARGIN_S;
	return 0;
}

/*
 * Take ticket *doc (as read) as this cook's next attempt, *n: write it
 * preparing, held until until.  The write is guarded by the version read,
 * so of two cooks (or a cook and a cancellation) that read one version,
 * one wins and the other reads the ticket again: then it is another cook's
 * while its lease lasts (GL_E_CONFLICT, *busy: until when; 0 if unknown),
 * or ended (GL_E_INVALID_STATE).  The first attempt announces
 * order.preparing; a takeover does not (the order's state does not change,
 * only its cook).  *doc is replaced by the ticket after (new).
 */
static enum gl_err
cook_start(const char *cook, const bson_oid_t *oid, int64_t until, json_t **doc, long long *n,
           int64_t *busy)
{
	int64_t now = time(NULL);
	json_t *after;
	enum gl_err err = GL_E_CONFLICT;

	*busy = 0;
	/* Others pass it by until the lease ends: moved with the start's write. */
	queue_defer_riding(oid, until);
	for (int i = 0; i < COOK_WRITE_TRIES && err == GL_E_CONFLICT; i++) {
		bool first = ticket_status_is(*doc, "paid");
		bson_t extra = BSON_INITIALIZER;

		if (i > 0) { /* changed since it was read: read it again */
			json_decref(*doc);
			*doc = NULL;
			if ((err = gl_db_get("tickets", oid, doc)) != GL_OK)
				break;
			first = ticket_status_is(*doc, "paid");
		}
		if (!first && !ticket_status_is(*doc, "preparing")) {
			err = GL_E_INVALID_STATE; /* ended: cancelled, or made ready */
			break;
		}
		if (!first && (*busy = cook_lease_end(*doc)) > now) {
			err = GL_E_CONFLICT; /* another cook's, alive as far as we know */
			break;
		}
		*n = cook_attempt(*doc) + 1;
		BSON_APPEND_INT64(&extra, "attempt", *n);
		BSON_APPEND_UTF8(&extra, "cook", cook);
		BSON_APPEND_DATE_TIME(&extra, "started_at", now * 1000);
		BSON_APPEND_DATE_TIME(&extra, "lease_until", until * 1000);
		err = ticket_move(NULL, *doc, "preparing", &extra, first ? "order.preparing" : NULL,
		                  &after);
		bson_destroy(&extra);
		if (err == GL_OK) {
			json_decref(*doc);
			*doc = after;
		}
	}
	queue_riding_end(err == GL_OK);
	return err;
}

/* Is attempt n still the ticket's, and the ticket still preparing?  Unknown counts as yes. */
static bool
cook_still_mine(const bson_oid_t *oid, long long n)
{
	json_t *doc;
	bool mine;

	if (gl_db_get("tickets", oid, &doc) != GL_OK)
		return true; /* MongoDB away: go on; the lease decides */
	mine = ticket_status_is(doc, "preparing") && cook_attempt(doc) == n;
	json_decref(doc);
	return mine;
}

/*
 * Preparing ends: ready, announced.  doc (stolen) is the ticket as this
 * attempt's start wrote it; the write is guarded by its version, so if a
 * cancellation or a cook taking over wrote it since, the ready is refused
 * and the ticket read again shows which: whichever writes first wins, so a
 * cancelled ticket is never made ready and a ready one is never cancelled.
 */
static void
cook_finish(const char *ticket, const bson_oid_t *oid, long long n, json_t *doc)
{
	bson_t stamp = BSON_INITIALIZER;
	enum gl_err err = GL_OK;

	BSON_APPEND_DATE_TIME(&stamp, "ready_at", (int64_t)time(NULL) * 1000);
	/* As many re-reads as ever, after the try with the start's copy. */
	for (int i = 0; i < COOK_WRITE_TRIES + 1; i++) {
		if (i > 0) {
			json_decref(doc);
			doc = NULL;
			if ((err = gl_db_get("tickets", oid, &doc)) != GL_OK)
				break;
		}
		if (!ticket_status_is(doc, "preparing")) {
			queue_drop(oid); /* settled already (cancelled, or another attempt) */
			break;
		}
		if (cook_attempt(doc) != n) {
			gl_log(GL_LOG_WARN, NULL, "ticket %s: attempt %lld was taken over", ticket,
			       n);
			break;
		}
		queue_drop_riding(oid); /* with the write that settles it */
		err = ticket_move(NULL, doc, "ready", &stamp, "order.ready", NULL);
		queue_riding_end(err == GL_OK);
		if (err == GL_OK)
			gl_log(GL_LOG_INFO, NULL, "ticket %s: ready (attempt %lld)", ticket, n);
		if (err != GL_E_CONFLICT)
			break;
	}
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "ticket %s: not settled now (%s); its next cook will",
		       ticket, gl_err_info(err)->code);
	json_decref(doc);
	bson_destroy(&stamp);
}

/*
 * The process stops while attempt n (doc: borrowed, as its start wrote it)
 * cooks: end its lease now, so the next cook need not wait for it.
 */
static void
cook_hand_back(const char *ticket, const bson_oid_t *oid, const json_t *doc)
{
	int64_t now = time(NULL);
	bson_t extra = BSON_INITIALIZER;
	enum gl_err err;

	BSON_APPEND_DATE_TIME(&extra, "lease_until", now * 1000);
	queue_defer_riding(oid, now);
	err = ticket_move(NULL, doc, "preparing", &extra, NULL, NULL);
	queue_riding_end(true);
	bson_destroy(&extra);
	if (err == GL_OK)
		gl_log(GL_LOG_INFO, NULL, "ticket %s: handed back (the process stops)", ticket);
	else
		gl_log(GL_LOG_WARN, NULL, "ticket %s: not handed back (%s): its lease ends it",
		       ticket, gl_err_info(err)->code);
}

/* Prepare ticket doc (new, stolen), started as attempt n. */
static void
cook_prepare(const char *id, const bson_oid_t *oid, json_t *doc, long long n)
{
	int64_t steps = cook_seconds(doc) * 1000 / KITCHEN_STEP_MS;

	gl_log(GL_LOG_INFO, NULL, "ticket %s: preparing by %s (attempt %lld, %lld s)", id,
	       json_string_value(json_object_get(doc, "cook")), n,
	       (long long)(steps * KITCHEN_STEP_MS / 1000));
	for (int64_t s = 1; s <= steps; s++) {
		if (kitchen_nap(KITCHEN_STEP_MS)) {
			cook_hand_back(id, oid, doc);
			json_decref(doc);
			return;
		}
		if (s % KITCHEN_CHECK_STEPS == 0 && !cook_still_mine(oid, n)) {
			gl_log(GL_LOG_INFO, NULL, "ticket %s: attempt %lld stops (cancelled?)", id,
			       n);
			json_decref(doc);
			return;
		}
	}
	cook_finish(id, oid, n, doc);
}

/* Try ticket doc (stolen) of queue entry oid: true when this cook prepared it (or tried to). */
static bool
cook_try(const char *cook, const bson_oid_t *oid, json_t *doc)
{
	int64_t until, busy = 0;
	char id[25];
	long long n = 0;
	enum gl_err err;

	bson_oid_to_string(oid, id);
	until = (int64_t)time(NULL) + cook_seconds(doc) + KITCHEN_LEASE_MARGIN_S;
	/* A span of the order's trace, from the traceparent kept in the ticket: the start's
	 * order.preparing belongs to it.  Dropped unless it had a child when nothing started. */
	struct gl_trace_span span;
	gl_trace_remote(&span, GL_TRACE_INTERNAL, "prepare ticket",
	                json_string_value(json_object_get(doc, "traceparent")));
	gl_trace_attr(&span, "galley.ticket_id", id);
	gl_trace_attr(&span, "galley.cook", cook);
	err = cook_start(cook, oid, until, &doc, &n, &busy);
	if (err != GL_OK) {
		if (err == GL_E_INVALID_STATE)
			queue_drop(oid); /* ended: a stale entry */
		else if (err == GL_E_CONFLICT && busy > 0)
			queue_defer(oid, busy); /* another cook's until then */
		else if (err != GL_E_CONFLICT) {
			/* Let the next cook try soon rather than now. */
			gl_log(GL_LOG_WARN, NULL, "ticket %s: cannot start it (%s)", id,
			       gl_err_info(err)->code);
			queue_defer(oid, (int64_t)time(NULL) + 1);
		}
		json_decref(doc);
		span.quiet = true;
		gl_trace_end(&span, false);
		return false;
	}
	gl_trace_attr_int(&span, "galley.attempt", n);
	cook_prepare(id, oid, doc, n);
	gl_trace_end(&span, false);
	return true;
}

bool
cook_work(const char *cook)
{
	bson_oid_t id;
	json_t *doc;
	bool listed;
	enum gl_err err;

	/* An entry whose try fails (taken by another cook, ended) is moved or dropped on the
	 * way, so the next pick finds another; as many picks as a pass looked at before. */
	for (int i = 0; i < COOK_DUE_MAX && !kitchen_stopping(); i++) {
		err = queue_pick(COOK_DUE_MAX, &listed, &id, &doc);
		if (!listed)
			return false; /* nothing due, or the store is away */
		if (err == GL_E_NOT_FOUND)
			queue_drop(&id); /* a ticket never stored */
		else if (err != GL_OK)
			return false;
		else if (cook_try(cook, &id, doc))
			return true;
	}
	return false;
}
