#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "board.h"

/* This worker's slot, and whether this thread is the one serving requests. */
static struct gl_board_slot *board_me;
static _Thread_local bool board_thread;
static int32_t board_pid; /* getpid() once: glibc makes it a syscall every time */

size_t
gl_board_size(int n)
{
	return (size_t)n * sizeof(struct gl_board_slot);
}

void
gl_board_write_begin(struct gl_board_slot *s)
{
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, q | 1u, memory_order_relaxed);
	/* The odd sequence is visible before any store to the fields below. */
	atomic_thread_fence(memory_order_release);
}

void
gl_board_write_end(struct gl_board_slot *s)
{
	uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, (q | 1u) + 1u, memory_order_release);
}

bool
gl_board_read(const struct gl_board_slot *board, int i, struct gl_board_slot *out)
{
	const struct gl_board_slot *s = &board[i];

	for (int tries = 0; tries < 100; tries++) {
		uint32_t a = atomic_load_explicit(&s->seq, memory_order_acquire);
		if (a & 1u)
			continue;
		memcpy((char *)out + sizeof(out->seq), (const char *)s + sizeof(s->seq),
		       sizeof(*s) - sizeof(s->seq));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) == a) {
			atomic_store_explicit(&out->seq, a, memory_order_relaxed);
			/* Bounded strings whatever the writer did. */
			out->method[sizeof(out->method) - 1] = '\0';
			out->route[sizeof(out->route) - 1] = '\0';
			out->request_id[sizeof(out->request_id) - 1] = '\0';
			out->waiting_on[sizeof(out->waiting_on) - 1] = '\0';
			return true;
		}
	}
	return false;
}

void
gl_board_copy(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	if (cap == 0)
		return;
	if (src != NULL)
		while (n < cap - 1 && src[n] != '\0')
			n++;
	/* Cut before a character the field has no room for all of. */
	if (src != NULL && n == cap - 1 && ((unsigned char)src[n] & 0xC0) == 0x80)
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A decimal environment variable in [0, max]; -1 when unset or not one. */
static long
board_env(const char *name, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= 0 && v <= max ? v : -1;
}

int
gl_board_attach(void)
{
	long fd = board_env("GALLEY_BOARD_FD", 1 << 20), slot, slots;
	void *m;

	if (getenv("GALLEY_BOARD_FD") == NULL)
		return 0;
	slot = board_env("GALLEY_BOARD_SLOT", GL_BOARD_MAX - 1);
	slots = board_env("GALLEY_BOARD_SLOTS", GL_BOARD_MAX);
	if (fd < 0 || slot < 0 || slots <= slot)
		return -1;
	m = mmap(NULL, gl_board_size((int)slots), PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
	close((int)fd); /* the mapping stays; nothing this process starts needs the fd */
	if (m == MAP_FAILED)
		return -1;
	board_me = (struct gl_board_slot *)m + slot;
	board_thread = true;
	board_pid = (int32_t)getpid();
	gl_board_idle();
	return 0;
}

static int64_t
board_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO: no syscall */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
gl_board_idle(void)
{
	struct gl_board_slot *s = board_me;

	if (s == NULL || !board_thread)
		return;
	gl_board_write_begin(s);
	s->state = GL_BOARD_IDLE;
	s->pid = board_pid;
	s->method[0] = s->route[0] = s->request_id[0] = s->waiting_on[0] = '\0';
	gl_board_write_end(s);
}

void
gl_board_begin(const char *request_id)
{
	struct gl_board_slot *s = board_me;

	if (s == NULL || !board_thread)
		return;
	gl_board_write_begin(s);
	s->state = GL_BOARD_BUSY;
	s->requests++;
	s->started_ns = board_now_ns();
	s->method[0] = s->route[0] = s->waiting_on[0] = '\0';
	gl_board_copy(s->request_id, sizeof(s->request_id), request_id);
	gl_board_write_end(s);
}

void
gl_board_route(const char *method, const char *pattern)
{
	struct gl_board_slot *s = board_me;

	if (s == NULL || !board_thread)
		return;
	gl_board_write_begin(s);
	gl_board_copy(s->method, sizeof(s->method), method);
	gl_board_copy(s->route, sizeof(s->route), pattern);
	gl_board_write_end(s);
}

void
gl_board_end(void)
{
	gl_board_idle();
}

void
gl_board_recycle(void)
{
	struct gl_board_slot *s = board_me;

	if (s == NULL || !board_thread)
		return;
	gl_board_write_begin(s);
	s->recycling = 1;
	gl_board_write_end(s);
}

void
gl_board_wait(const char *what, const char *detail)
{
	struct gl_board_slot *s = board_me;

	if (s == NULL || !board_thread)
		return;
	gl_board_write_begin(s);
	if (what == NULL) {
		s->waiting_on[0] = '\0';
	} else if (detail == NULL || *detail == '\0') {
		gl_board_copy(s->waiting_on, sizeof(s->waiting_on), what);
	} else {
		size_t n = strnlen(what, sizeof(s->waiting_on) - 2);
		memcpy(s->waiting_on, what, n);
		s->waiting_on[n] = ' ';
		gl_board_copy(s->waiting_on + n + 1, sizeof(s->waiting_on) - n - 1, detail);
	}
	gl_board_write_end(s);
}
