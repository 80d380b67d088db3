/*
 * idem: Idempotency-Key for POSTs that create (API.md conventions).
 *
 * A repeat with the same key and the same body gets the first response and
 * creates nothing new; the same key with another body is 409 conflict.  The
 * rule must hold when two copies arrive at once, so a key is claimed by one
 * script in the store (redis.h: the Redis whose AOF is on): the first
 * request writes {state: pending, hash}; a racing copy finds it and answers
 * 409 (in progress) or replays the stored response.  A pending record older
 * than GL_IDEM_PENDING_S (its owner died) is taken over by the next attempt.
 * A record is kept GL_IDEM_KEEP_S (24 h, as Stripe keeps its keys), then
 * the key may be used again.  Keys belong to the caller (<user>): another
 * user sending the same key makes its own request and never sees the first
 * one's answer.  Records: "galley:idem:<service>:<scope>:<user>:<key>".
 */
#ifndef GL_IDEM_H
#define GL_IDEM_H

#include <jansson.h>
#include <stdbool.h>

#include "req.h"

#define GL_IDEM_PENDING_S 60
#define GL_IDEM_KEEP_S    86400

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

/* Keep status and body (borrowed) as the answer to every repeat of the key (unless it rode
 * on the thing's write already: gl_idem_ride()). */
void gl_idem_store(struct gl_idem *idem, int status, const json_t *body);

/*
 * Let the answer ride on this thread's next kept write (kept.h), the one that makes the
 * thing it answers for: stored by the same script, so no crash between the two can leave
 * the key pending over a thing made, which a repeat would make again once the key is
 * abandoned (GL_IDEM_PENDING_S).  The answer is copied; call gl_idem_store() after the
 * write all the same, which stores it when it did not ride.
 */
void gl_idem_ride(struct gl_idem *idem, int status, const json_t *body);

/* For kept.c: the answer riding, or NULL (strings owned by idem.c until gl_idem_rode()),
 * and gl_idem_rode(written) once the script that carried it returned. */
struct gl_idem_answer {
	const char *key, *status, *response, *keep;
};
const struct gl_idem_answer *gl_idem_riding(void);
void gl_idem_rode(bool written);

/* Give the key up after a failure, so a retry may succeed. */
void gl_idem_release(struct gl_idem *idem);

#endif
