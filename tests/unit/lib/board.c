/* Unit tests of lib/board.c: the seqlock never hands a reader a torn slot, fields are cut
 * between characters, and a worker's calls write what galley-pool reads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap.h"
#include "board.h"

static struct gl_board_slot shared[2];
static volatile int writing = 1;

/* A writer that flips slot 0 between two consistent states, again and again. */
static void *
writer(void *arg)
{
	(void)arg;
	for (unsigned long i = 0; writing; i++) {
		gl_board_write_begin(&shared[0]);
		shared[0].requests = i;
		memset(shared[0].route, i & 1 ? 'a' : 'b', sizeof(shared[0].route) - 1);
		snprintf(shared[0].request_id, sizeof(shared[0].request_id), "%lu", i);
		gl_board_write_end(&shared[0]);
		/* A little time between writes, as between a worker's (a reader that always
		 * meets a write retries, and gives up after 100 tries). */
		for (volatile int k = 0; k < 300; k++)
			;
	}
	return NULL;
}

int
main(void)
{
	struct gl_board_slot s;
	char f[8];
	pthread_t t;
	int torn = 0, reads = 0;

	/* Truncation. */
	gl_board_copy(f, sizeof(f), "mongo find");
	is_str(f, "mongo f", "a long label is cut to the field");
	gl_board_copy(f, sizeof(f), "abcdef\xc3\xa9");
	is_str(f, "abcdef", "never in the middle of a character");
	gl_board_copy(f, sizeof(f),
	              "ab\xe2\x82\xac"
	              "cde");
	is_str(f,
	       "ab\xe2\x82\xac"
	       "cd",
	       "a whole character that fits stays");
	gl_board_copy(f, sizeof(f), NULL);
	is_str(f, "", "NULL is empty");

	/* The seqlock under a concurrent writer, from a consistent first state. */
	gl_board_write_begin(&shared[0]);
	memset(shared[0].route, 'b', sizeof(shared[0].route) - 1);
	snprintf(shared[0].request_id, sizeof(shared[0].request_id), "0");
	gl_board_write_end(&shared[0]);
	pthread_create(&t, NULL, writer, NULL);
	for (int i = 0; i < 200000; i++) {
		if (!gl_board_read(shared, 0, &s))
			continue;
		reads++;
		char want = s.route[0];
		for (size_t k = 0; k < sizeof(s.route) - 1; k++)
			if (s.route[k] != want)
				torn++;
		char id[32];
		snprintf(id, sizeof(id), "%lu", (unsigned long)s.requests);
		if (strcmp(id, s.request_id) != 0 || (want != 'a' && want != 'b') ||
		    (want == 'a') != (s.requests & 1))
			torn++;
	}
	writing = 0;
	pthread_join(t, NULL);
	ok(reads > 0, "the reader got slots (%d)", reads);
	ok(torn == 0, "no torn slot among them (%d torn)", torn);

	/* A worker's side: attach through the environment, as under galley-pool. */
	ok(gl_board_attach() == 0, "no GALLEY_BOARD_FD: nothing to attach, no error");
	gl_board_begin("ignored");
	int fd = memfd_create("test-board", 0);
	ok(fd >= 0 && ftruncate(fd, (off_t)gl_board_size(2)) == 0, "a board of 2 slots");
	struct gl_board_slot *b =
	        mmap(NULL, gl_board_size(2), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char num[16];
	snprintf(num, sizeof(num), "%d", fd);
	setenv("GALLEY_BOARD_FD", num, 1);
	setenv("GALLEY_BOARD_SLOT", "2", 1);
	setenv("GALLEY_BOARD_SLOTS", "2", 1);
	ok(gl_board_attach() == -1, "a slot beyond the board is refused");
	setenv("GALLEY_BOARD_SLOT", "1", 1);
	ok(gl_board_attach() == 0, "slot 1 of 2 attaches");
	ok(gl_board_read(b, 1, &s) && s.state == GL_BOARD_IDLE && s.pid == getpid(),
	   "attached: idle, with its pid");
	gl_board_begin("0af7651916cd43dd8448eb211c80319c");
	gl_board_route("GET", "/api/menu/items/{id}");
	gl_board_wait("mongo", "find");
	ok(gl_board_read(b, 1, &s) && s.state == GL_BOARD_BUSY && s.requests == 1 &&
	           s.started_ns > 0,
	   "begin: busy, one request, its start");
	is_str(s.method, "GET", "the method");
	is_str(s.route, "/api/menu/items/{id}", "the route's pattern");
	is_str(s.request_id, "0af7651916cd43dd8448eb211c80319c", "the request id");
	is_str(s.waiting_on, "mongo find", "what it waits on");
	gl_board_wait("http", "a-service-name-much-longer-than-the-field-is");
	gl_board_read(b, 1, &s);
	is_str(s.waiting_on, "http a-service-name-much-longer", "a long wait label is cut");
	gl_board_wait(NULL, NULL);
	gl_board_read(b, 1, &s);
	is_str(s.waiting_on, "", "the call returned: waiting on nothing");
	pthread_t other;
	pthread_create(&other, NULL, (void *(*)(void *))gl_board_idle, NULL);
	pthread_join(other, NULL);
	gl_board_read(b, 1, &s);
	ok(s.state == GL_BOARD_BUSY, "another thread's calls leave the slot alone");
	gl_board_end();
	gl_board_recycle();
	ok(gl_board_read(b, 1, &s) && s.state == GL_BOARD_IDLE && s.recycling == 1 &&
	           s.route[0] == '\0',
	   "end: idle again; recycle marks it");
	ok(b[0].seq == 0, "slot 0 untouched");
	return done_testing();
}
