/*
 * idem: Idempotency-Key for POSTs that create (API.md conventions).
 *
 * A repeat with the same key and the same body gets the first response and
 * creates nothing new; the same key with another body is 409 conflict.  The
 * rule must hold when two copies arrive at once, on any MongoDB-wire
 * server, so it rests on the one thing MongoDB and FerretDB both enforce
 * atomically: a unique _id on insert.  The first request inserts
 * {_id: "<scope>:<user>:<key>", state: "pending"}; a racing copy's insert fails
 * and it answers 409 (in progress) or replays the stored response.  A
 * pending record older than GL_IDEM_PENDING_S (its owner died) is removed
 * by the next attempt, which then takes the key over with a fresh insert.
 * Keys belong to the caller (<user>): another user sending the same key
 * makes its own request and never sees the first one's answer.  Records
 * live in the service's "idempotency" collection.
 */
#ifndef GL_IDEM_H
#define GL_IDEM_H

#include <jansson.h>
#include <stdbool.h>

#include "req.h"

#define GL_IDEM_PENDING_S 60

struct gl_idem {
	bool active; /* the request carried a key and now owns it */
	char id[160];
};

/*
 * Claim the request's Idempotency-Key (if it has one) for scope.  GL_OK
 * with *replayed true means the first response was put into req: answer
 * nothing else.  GL_OK with *replayed false: go on, then call
 * gl_idem_store() with the answer, or gl_idem_release() on failure.
 */
enum gl_err gl_idem_begin(struct gl_req *req, const char *scope, struct gl_idem *idem,
                          bool *replayed) __attribute__((warn_unused_result));

/*
 * Is key (NUL-terminated, borrowed) a well-formed Idempotency-Key: 1..64
 * printable ASCII characters, no space?  The one check gl_idem_begin()
 * makes before a key goes into a record id (exposed for tests and fuzzing).
 */
bool gl_idem_key_ok(const char *key);

/* Keep status and body (borrowed) as the answer to every repeat of the key. */
void gl_idem_store(struct gl_idem *idem, int status, const json_t *body);

/* Give the key up after a failure, so a retry may succeed. */
void gl_idem_release(struct gl_idem *idem);

#endif
