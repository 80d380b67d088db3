/* One cook's work: claim a ticket, prepare it, announce it (kitchen.h). */
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
#define COOK_ATTEMPTS    64 /* attempts walked past per pass (each left by a dead cook) */
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
 * Claim the next attempt at ticket doc (borrowed): past the attempt it
 * names, past every later one whose lease is over.  GL_OK with *n;
 * GL_E_CONFLICT when a live cook holds it (*busy: until when; 0 if unknown).
 */
static enum gl_err
cook_claim(const char *cook, const char *ticket, const json_t *doc, int64_t until, long long *n,
           int64_t *busy)
{
	int64_t now = time(NULL);
	long long a = cook_attempt(doc);
	enum gl_err err;

	for (int i = 0; i < COOK_ATTEMPTS; i++) {
		if (a > 0) {
			err = claim_until(ticket, a, busy);
			if (err == GL_OK && *busy > now)
				return GL_E_CONFLICT;
			if (err != GL_OK && err != GL_E_NOT_FOUND)
				return err;
		}
		a++;
		err = claim_take(ticket, a, cook, until);
		if (err == GL_OK) {
			*n = a;
			return GL_OK;
		}
		if (err != GL_E_CONFLICT)
			return err;
		/* Taken just now: the next turn reads whose lease it is. */
	}
	*busy = 0;
	return GL_E_CONFLICT;
}

/*
 * Write the ticket as ours: preparing, attempt n.  The first attempt
 * announces order.preparing; a takeover does not (the order's state does
 * not change, only its cook).  *doc is replaced by the ticket after (new).
 */
static enum gl_err
cook_start(const char *cook, long long n, json_t **doc)
{
	bson_t extra = BSON_INITIALIZER;
	bson_oid_t oid;
	json_t *after;
	enum gl_err err = GL_E_CONFLICT;

	BSON_APPEND_INT64(&extra, "attempt", n);
	BSON_APPEND_UTF8(&extra, "cook", cook);
	BSON_APPEND_DATE_TIME(&extra, "started_at", (int64_t)time(NULL) * 1000);
	for (int i = 0; i < COOK_WRITE_TRIES && err == GL_E_CONFLICT; i++) {
		bool first = ticket_status_is(*doc, "paid");

		if (!first && !ticket_status_is(*doc, "preparing")) {
			err = GL_E_INVALID_STATE; /* cancelled meanwhile */
			break;
		}
		err = ticket_move(NULL, *doc, "preparing", &extra, first ? "order.preparing" : NULL,
		                  &after);
		if (err == GL_OK) {
			json_decref(*doc);
			*doc = after;
		} else if (err == GL_E_CONFLICT &&
		           gl_oid_parse(json_string_value(json_object_get(*doc, "id")), &oid)) {
			/* Changed since it was read (a cancel?): read it again. */
			json_decref(*doc);
			*doc = NULL;
			if ((err = gl_db_get("tickets", &oid, doc)) == GL_OK)
				err = GL_E_CONFLICT;
			else
				break;
		}
	}
	bson_destroy(&extra);
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

/* The fields a change to status sets besides it: "<status>_at" now (new, or NULL). */
static bson_t *
cook_stamp(const char *status)
{
	bson_t *b = bson_new();
	char key[32];

	snprintf(key, sizeof(key), "%s_at", status);
	BSON_APPEND_DATE_TIME(b, key, (int64_t)time(NULL) * 1000);
	return b;
}

/*
 * Preparing ends: ready (announced), unless the order was cancelled first;
 * claim_end() decides which, once for every attempt and the cancellation.
 * doc (stolen) is the ticket as this attempt's start wrote it: the write
 * is guarded by its version, so a ticket changed since is read again.
 */
static void
cook_finish(const char *ticket, const bson_oid_t *oid, long long n, json_t *doc)
{
	bson_t *stamp;
	bool ready;
	enum gl_err err;

	if ((err = claim_end(ticket, "ready", &ready)) != GL_OK) {
		gl_log(GL_LOG_WARN, NULL, "ticket %s: cannot settle it now; its next cook will",
		       ticket);
		json_decref(doc);
		return;
	}
	stamp = cook_stamp(ready ? "ready" : "cancelled");
	/* As many re-reads as ever, after the try with the start's copy. */
	for (int i = 0, tries = COOK_WRITE_TRIES + (doc != NULL); i < tries; i++) {
		if (i > 0 || doc == NULL) {
			json_decref(doc);
			doc = NULL;
			if ((err = gl_db_get("tickets", oid, &doc)) != GL_OK)
				break;
		}
		if (!ticket_status_is(doc, "paid") && !ticket_status_is(doc, "preparing")) {
			queue_drop(oid); /* settled already (by the cancel, or another attempt) */
			break;
		}
		if (ready && cook_attempt(doc) != n) {
			gl_log(GL_LOG_WARN, NULL, "ticket %s: attempt %lld was taken over", ticket,
			       n);
			break;
		}
		/* Cancelled first: its handler writes that too; this covers one that died. */
		queue_drop_riding(oid); /* with the write that settles it */
		err = ticket_move(NULL, doc, ready ? "ready" : "cancelled", stamp,
		                  ready ? "order.ready" : NULL, NULL);
		queue_riding_end(err == GL_OK);
		if (err == GL_OK) {
			gl_log(GL_LOG_INFO, NULL, "ticket %s: %s (attempt %lld)", ticket,
			       ready ? "ready" : "cancelled while preparing", n);
		}
		if (err != GL_E_CONFLICT)
			break;
	}
	if (err != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "ticket %s: not settled now (%s); its next cook will",
		       ticket, gl_err_info(err)->code);
	json_decref(doc);
	bson_destroy(stamp);
}

/* Prepare ticket doc (new, stolen), claimed as attempt n until until. */
static void
cook_prepare(const char *cook, json_t *doc, long long n, int64_t until)
{
	const char *ticket = json_string_value(json_object_get(doc, "id"));
	char id[25];
	bson_oid_t oid;
	int64_t steps;
	enum gl_err err;

	if (!gl_oid_parse(ticket, &oid)) {
		json_decref(doc);
		return;
	}
	bson_oid_to_string(&oid, id);
	steps = cook_seconds(doc) * 1000 / KITCHEN_STEP_MS;
	/* Others pass it by until the lease ends: moved with the start's write. */
	queue_defer_riding(&oid, until);
	err = cook_start(cook, n, &doc);
	queue_riding_end(err == GL_OK);
	if (err != GL_OK) {
		json_decref(doc);
		if (err == GL_E_INVALID_STATE) {
			queue_drop(&oid); /* cancelled: nothing to prepare */
			return;
		}
		/* Let the next cook try soon rather than at the lease's end. */
		gl_log(GL_LOG_WARN, NULL, "ticket %s: cannot start attempt %lld (%s)", id, n,
		       gl_err_info(err)->code);
		claim_release(id, n);
		queue_defer(&oid, (int64_t)time(NULL) + 1);
		return;
	}
	gl_log(GL_LOG_INFO, NULL, "ticket %s: preparing by %s (attempt %lld, %lld s)", id, cook, n,
	       (long long)(steps * KITCHEN_STEP_MS / 1000));
	for (int64_t s = 1; s <= steps; s++) {
		if (kitchen_nap(KITCHEN_STEP_MS)) {
			/* Stopping: hand the ticket back now rather than at the lease's end. */
			claim_release(id, n);
			queue_defer(&oid, (int64_t)time(NULL));
			gl_log(GL_LOG_INFO, NULL, "ticket %s: handed back (the process stops)", id);
			json_decref(doc);
			return;
		}
		if (s % KITCHEN_CHECK_STEPS == 0 && !cook_still_mine(&oid, n)) {
			gl_log(GL_LOG_INFO, NULL, "ticket %s: attempt %lld stops (cancelled?)", id,
			       n);
			json_decref(doc);
			return;
		}
	}
	cook_finish(id, &oid, n, doc);
}

/* Try the ticket of queue entry id: true when this cook prepared it (or tried to). */
static bool
cook_try(const char *cook, const bson_oid_t *oid)
{
	int64_t until, busy = 0;
	char id[25];
	json_t *doc;
	long long n;
	enum gl_err err;

	bson_oid_to_string(oid, id);
	if ((err = gl_db_get("tickets", oid, &doc)) != GL_OK) {
		if (err == GL_E_NOT_FOUND)
			queue_drop(oid);
		return false;
	}
	if (!ticket_status_is(doc, "paid") && !ticket_status_is(doc, "preparing")) {
		queue_drop(oid); /* ended: a stale entry */
		json_decref(doc);
		return false;
	}
	until = (int64_t)time(NULL) + cook_seconds(doc) + KITCHEN_LEASE_MARGIN_S;
	err = cook_claim(cook, id, doc, until, &n, &busy);
	if (err != GL_OK) {
		if (err == GL_E_CONFLICT && busy > 0)
			queue_defer(oid, busy);
		json_decref(doc);
		return false;
	}
	/* A span of the order's trace, from the traceparent kept in the ticket. */
	struct gl_trace_span span;
	gl_trace_remote(&span, GL_TRACE_INTERNAL, "prepare ticket",
	                json_string_value(json_object_get(doc, "traceparent")));
	gl_trace_attr(&span, "galley.ticket_id", id);
	gl_trace_attr(&span, "galley.cook", cook);
	gl_trace_attr_int(&span, "galley.attempt", n);
	cook_prepare(cook, doc, n, until);
	gl_trace_end(&span, false);
	return true;
}

bool
cook_work(const char *cook)
{
	bson_oid_t due[COOK_DUE_MAX];
	size_t i, n;
	bool worked = false;

	if (queue_due(due, COOK_DUE_MAX, &n) != GL_OK)
		return false;
	/*
	 * Every cook of every process reads the same due entries: each starts at a
	 * place of its own, or all would read the first ticket and race for it,
	 * and the losers then for the second (measured: a burst of paid orders went
	 * through at a few dozen a second).
	 */
	size_t start = n > 0 ? (size_t)random() % n : 0;
	for (i = 0; i < n && !kitchen_stopping(); i++)
		if ((worked = cook_try(cook, &due[(start + i) % n])))
			break;
	return worked;
}
