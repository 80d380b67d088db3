#include <stdatomic.h>

#include "stop.h"

/* A lock-free atomic: safe to set in a signal handler and to read from any thread. */
static atomic_int stop_flag;

void
gl_stop_request(void)
{
	atomic_store(&stop_flag, 1);
}

bool
gl_stop_requested(void)
{
	return atomic_load(&stop_flag) != 0;
}
