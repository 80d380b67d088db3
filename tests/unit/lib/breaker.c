/* Unit tests of lib/breaker.c: the circuit breaker's states over a fake clock. */
#include "../tap.h"
#include "breaker.h"

int
main(void)
{
	struct gl_breaker b = { 0 };
	long long t = 1000000;
	int i;

	ok(gl_breaker_state(&b, t) == GL_BREAKER_CLOSED, "a new breaker is closed");
	for (i = 1; i < GL_BREAKER_FAILS; i++) {
		ok(gl_breaker_allow(&b, t), "call %d goes out", i);
		gl_breaker_record(&b, false, t);
	}
	ok(gl_breaker_state(&b, t) == GL_BREAKER_CLOSED, "%d failures in a row: still closed",
	   GL_BREAKER_FAILS - 1);
	gl_breaker_record(&b, true, t);
	ok(b.failures == 0, "a success resets the count");
	for (i = 0; i < GL_BREAKER_FAILS; i++)
		gl_breaker_record(&b, false, t);
	ok(gl_breaker_state(&b, t) == GL_BREAKER_OPEN, "%d failures in a row: open",
	   GL_BREAKER_FAILS);
	ok(!gl_breaker_allow(&b, t), "an open breaker refuses at once");
	ok(!gl_breaker_allow(&b, t + GL_BREAKER_OPEN_US - 1), "until its time is up");
	t += GL_BREAKER_OPEN_US;
	ok(gl_breaker_state(&b, t) == GL_BREAKER_HALF_OPEN, "then it is half-open");
	ok(gl_breaker_allow(&b, t), "one trial call goes out");
	ok(!gl_breaker_allow(&b, t), "a second one waits for the trial");
	gl_breaker_record(&b, false, t);
	ok(gl_breaker_state(&b, t) == GL_BREAKER_OPEN, "a failed trial opens it again");
	ok(!gl_breaker_allow(&b, t + 1), "refusing at once");
	t += GL_BREAKER_OPEN_US;
	ok(gl_breaker_allow(&b, t), "after the time, another trial");
	gl_breaker_record(&b, true, t);
	ok(gl_breaker_state(&b, t) == GL_BREAKER_CLOSED, "a good trial closes it");
	ok(gl_breaker_allow(&b, t) && gl_breaker_allow(&b, t), "and calls flow again");
	return done_testing();
}
