#include "breaker.h"

enum gl_breaker_state
gl_breaker_state(const struct gl_breaker *b, long long now_us)
{
	if (b->failures < GL_BREAKER_FAILS)
		return GL_BREAKER_CLOSED;
	return now_us < b->open_until ? GL_BREAKER_OPEN : GL_BREAKER_HALF_OPEN;
}

bool
gl_breaker_allow(struct gl_breaker *b, long long now_us)
{
	switch (gl_breaker_state(b, now_us)) {
	case GL_BREAKER_CLOSED:
		return true;
	case GL_BREAKER_OPEN:
		return false;
	case GL_BREAKER_HALF_OPEN:
		/* One trial at a time; the rest keep failing fast until it reports. */
		if (b->trial)
			return false;
		b->trial = true;
		return true;
	}
	return true;
}

void
gl_breaker_record(struct gl_breaker *b, bool ok, long long now_us)
{
	b->trial = false;
	if (ok) {
		b->failures = 0;
		b->open_until = 0;
		return;
	}
	if (b->failures < GL_BREAKER_FAILS)
		b->failures++;
	if (b->failures >= GL_BREAKER_FAILS)
		b->open_until = now_us + GL_BREAKER_OPEN_US;
}
