#include <time.h>

#include "admit.h"

int64_t
gl_admit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* nginx's "<seconds>.<ms>" ($msec, $request_time) in ms; -1 when it is not that. At most 12
 * digits of seconds: far past any clock, far below overflow. */
static int64_t
admit_ms(const char *s)
{
	int64_t sec = 0, ms = 0;
	int digits = 0, scale = 100;

	if (s == NULL)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 12)
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (digits == 0)
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9' && scale > 0; s++, scale /= 10)
			ms += (*s - '0') * scale;
		if (scale == 100)
			return -1; /* a dot without digits */
	}
	return *s == '\0' ? sec * 1000 + ms : -1;
}

bool
gl_admit_take(struct gl_admit *a, const char *queued_at, const char *edge_time, long idle_ms,
              int64_t now)
{
	int64_t queued = admit_ms(queued_at), edge = admit_ms(edge_time), limit;

	a->waited_ms = 0;
	if (idle_ms >= GL_ADMIT_IDLE_MS || (idle_ms >= 0 && now - a->refused_at >= a->burst_ms))
		a->idle_at = now;
	if (a->wait_ms <= 0 || queued < 0 || edge < 0 || idle_ms >= 0)
		return true;
	a->waited_ms = now - queued + edge;
	if (a->waited_ms < 0)
		a->waited_ms = 0;
	limit = now - a->idle_at < a->burst_ms ? a->burst_ms : a->wait_ms;
	if (limit < a->wait_ms)
		limit = a->wait_ms; /* a burst is never held to less than a standing queue */
	if (a->waited_ms <= limit)
		return true;
	a->refused_at = now;
	return false;
}
