/*
 * etag: the entity tag of an answer to a GET, and If-None-Match (RFC 9110
 * §8.8.3, §13.1.2).
 *
 * The tag is a digest of the exact bytes sent: BLAKE2b-128 (libsodium's
 * crypto_generichash) of the body, as 32 lowercase hex digits in quotes, a
 * strong tag.  Not the document's `version`, on purpose:
 *   - a list (GET /api/menu, every ?limit= page) has no version of its own,
 *     and a digest changes when any item in it changes, or one is added or
 *     removed;
 *   - one document has several readers and paths (a customer's own record
 *     comes from MongoDB, staff's copy from the Redis cache): should two
 *     answers ever differ in a byte, or a view ever depend on the caller,
 *     equal tags still mean equal bytes, so a 304 never hands one caller
 *     what the browser kept from another's answer;
 *   - a stock level ({item_id, on_hand, reserved, available}) has no
 *     version, and its reserved count changes with every order;
 *   - it needs no code in any handler: the one writer (req.c) tags every
 *     200 to a GET (HEAD) of a route that needs a caller, whatever the
 *     handler read (the Redis cache when the route uses it), and answers
 *     304 there when If-None-Match holds the tag.
 * A version still changes the bytes (the body carries it), so "the version
 * changed" implies "the tag changed".  The cost is one hash of the body
 * per GET, measured here at 0.4 µs for an item (200 bytes) and 33 µs for
 * 20 KB (a long list): small beside serializing and sending the same
 * bytes.  No "Vary: Authorization" either: the browser sends its copy's
 * tag whoever signs in next, and the server answers 304 only when that
 * caller's own answer has the same bytes.
 *
 * If-None-Match is read defensively: a header longer than GL_ETAG_FIELD_MAX
 * or not of the RFC's grammar is no match (the full 200 is always a correct
 * answer), never a 4xx.
 */
#ifndef GL_ETAG_H
#define GL_ETAG_H

#include <stdbool.h>
#include <stddef.h>

/* '"' + 32 hex digits + '"' + NUL */
#define GL_ETAG_SIZE 35
/* Longer If-None-Match values are ignored (treated as no match). */
#define GL_ETAG_FIELD_MAX 1024

/* Write the strong entity tag of body (len bytes, borrowed) into tag, quotes included. */
void gl_etag_of(char tag[GL_ETAG_SIZE], const void *body, size_t len);

/*
 * Does the If-None-Match field value (borrowed; NULL when absent) match tag
 * (a quoted entity tag, as gl_etag_of writes it)?  True for "*" and for a
 * list naming tag, weak (W/"…") or strong: If-None-Match uses the weak
 * comparison.  False when absent, empty, over GL_ETAG_FIELD_MAX bytes or
 * malformed anywhere.
 */
bool gl_etag_none_match(const char *field, const char *tag);

#endif
