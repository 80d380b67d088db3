/* What a call writes to stderr (lib/log.c's lines), for the unit tests that check it. */
#ifndef GL_UNIT_CAPTURE_H
#define GL_UNIT_CAPTURE_H

#include <stdlib.h>
#include <unistd.h>

static char captured[8192];

/* Run call with stderr on a pipe; captured then holds what it wrote (at most 8 KiB). */
#define CAPTURE(call)                                                                              \
	do {                                                                                       \
		int fds_[2], saved_ = dup(STDERR_FILENO);                                          \
		ssize_t n_;                                                                        \
		if (pipe(fds_) != 0)                                                               \
			abort();                                                                   \
		dup2(fds_[1], STDERR_FILENO);                                                      \
		call;                                                                              \
		dup2(saved_, STDERR_FILENO);                                                       \
		close(fds_[1]);                                                                    \
		close(saved_);                                                                     \
		n_ = read(fds_[0], captured, sizeof(captured) - 1);                                \
		captured[n_ > 0 ? n_ : 0] = '\0';                                                  \
		close(fds_[0]);                                                                    \
	} while (0)

#endif
