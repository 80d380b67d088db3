/*
 * sentinel: where a Redis primary watched by Redis Sentinel is now.
 *
 * With GALLEY_REDIS_SENTINELS set (host:port,host:port,...), redis.c does not
 * connect to the host:port of GALLEY_REDIS_URL / GALLEY_STORE_URL but asks the
 * Sentinels, in turn, where the primary they call GALLEY_REDIS_MASTER (the
 * cache) or GALLEY_STORE_MASTER (the store) is, at every (re)connect.  After a
 * failover the old primary's connections fail or answer READONLY; redis.c drops
 * them and the next connect asks again, so every process follows the new
 * primary without being told.
 *
 * Sentinel speaks the Redis protocol, so this is hiredis too; nothing here is
 * kept between calls but the index of the Sentinel that answered last.
 */
#ifndef GL_SENTINEL_H
#define GL_SENTINEL_H

#include <stdbool.h>
#include <stddef.h>

/* Are Sentinels configured (GALLEY_REDIS_SENTINELS not empty)? */
bool gl_sentinel_on(void);

/*
 * Ask the Sentinels for master `name`'s address: 0 with host (NUL-terminated,
 * at most hostlen - 1 bytes) and port filled, or -1 when no Sentinel knows it
 * (none answers, or the list is malformed: logged).
 */
int gl_sentinel_primary(const char *name, char *host, size_t hostlen, int *port);

#endif
