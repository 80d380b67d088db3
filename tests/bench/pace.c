/*
 * pace: how fast this machine runs a fixed piece of work right now, sampled beside a
 * benchmark so that a phase that served less can be told apart from a machine that ran
 * slower meanwhile (docs/performance.md, "Is it the machine?").
 *
 * Every PERIOD_MS it runs two fixed pieces of work and prints the thread CPU time each
 * took, in microseconds:
 *   <unix ms> <user work us> <system call work us>
 * The user work walks a 256 KiB table (arithmetic and cache, as a request's parsing and
 * JSON do); the system call work is 2,000 getppid()s (the kernel's entry and exit, which
 * on a guest with page-table isolation is most of a round trip's cost). CPU time, not
 * wall time, so a sample is not longer for having waited for the processor; about 1 ms
 * of work each 100 ms, 1 % of a core.
 *
 * usage: pace [period-ms]   (until killed; a benchmark pins it with taskset)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TABLE_WORDS (256 * 1024 / sizeof(uint64_t))
#define USER_ROUNDS 4
#define SYSCALLS    2000

static uint64_t table[TABLE_WORDS];

static int64_t
ns_of(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A walk whose every step depends on the last, so the compiler keeps it whole. */
static uint64_t
user_work(void)
{
	uint64_t x = 88172645463325252ULL;

	for (int r = 0; r < USER_ROUNDS; r++)
		for (size_t i = 0; i < TABLE_WORDS; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			table[(i * 8191 + (x & 7)) % TABLE_WORDS] += x;
		}
	return x;
}

static pid_t
syscall_work(void)
{
	pid_t p = 0;

	for (int i = 0; i < SYSCALLS; i++)
		p ^= getppid();
	return p;
}

int
main(int argc, char **argv)
{
	long period_ms = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	struct timespec gap;
	volatile uint64_t sink;
	int64_t t0, t1, t2;

	if (period_ms < 10 || period_ms > 10000) {
		fprintf(stderr, "usage: pace [period-ms, 10-10000]\n");
		return 2;
	}
	gap.tv_sec = period_ms / 1000;
	gap.tv_nsec = period_ms % 1000 * 1000000;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		t0 = ns_of(CLOCK_THREAD_CPUTIME_ID);
		sink = user_work();
		t1 = ns_of(CLOCK_THREAD_CPUTIME_ID);
		sink ^= (uint64_t)syscall_work();
		t2 = ns_of(CLOCK_THREAD_CPUTIME_ID);
		(void)sink;
		printf("%lld %lld %lld\n", (long long)(ns_of(CLOCK_REALTIME) / 1000000),
		       (long long)((t1 - t0) / 1000), (long long)((t2 - t1) / 1000));
		nanosleep(&gap, NULL);
	}
}
