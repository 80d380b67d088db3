/*
 * A Redis of the test's own, for the unit tests of what keeps its state there (idem, due,
 * metrics): redis-server on a Unix socket in a new directory under /tmp, saving nothing, and
 * stopped when the test exits.  unit_redis_start() makes the test's process a service named
 * "unit" that logs errors only, and points gl_conf's cache and store at that Redis; where
 * redis-server cannot run the test fails (one "not ok" saying why: bin/galley up installs
 * it; a test is not skipped for want of a server).  Never the
 * stack's Redis: nothing here knows its address.
 */
#ifndef GL_UNIT_REDIS_SERVER_H
#define GL_UNIT_REDIS_SERVER_H

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "redis.h"

static pid_t unit_redis_pid;
static char unit_redis_dir[64], unit_redis_sock[96], unit_redis_url[128];

/* Stop it (at exit, or earlier to see Redis go away); the directory goes with it. */
static inline void
unit_redis_stop(void)
{
	if (unit_redis_pid > 0) {
		kill(unit_redis_pid, SIGTERM);
		waitpid(unit_redis_pid, NULL, 0);
		unit_redis_pid = 0;
	}
	if (unit_redis_dir[0] != '\0') {
		unlink(unit_redis_sock);
		rmdir(unit_redis_dir);
		unit_redis_dir[0] = '\0';
	}
}

static inline void
unit_redis_fail(const char *why)
{
	unit_redis_stop();
	printf("not ok 1 - %s\n1..1\n", why);
	exit(1);
}

static inline void
unit_redis_start(void)
{
	redisContext *c;

	gl_conf.service = "unit";
	gl_conf.log_level = "error";
	gl_log_init();
	snprintf(unit_redis_dir, sizeof(unit_redis_dir), "/tmp/galley-unit-XXXXXX");
	if (mkdtemp(unit_redis_dir) == NULL)
		unit_redis_fail("no directory for redis-server");
	snprintf(unit_redis_sock, sizeof(unit_redis_sock), "%s/redis.sock", unit_redis_dir);
	if ((unit_redis_pid = fork()) < 0)
		unit_redis_fail("fork failed");
	if (unit_redis_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		/* Its log off the TAP stream. */
		dup2(null, STDOUT_FILENO);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
		       unit_redis_sock, "--save", "", "--appendonly", "no", "--dir", unit_redis_dir,
		       (char *)NULL);
		_exit(127);
	}
	atexit(unit_redis_stop);
	signal(SIGPIPE, SIG_IGN); /* as app.c: a write to a Redis gone is an error, not death */
	for (int i = 0;; i++) {
		if ((c = redisConnectUnix(unit_redis_sock)) != NULL && c->err == 0)
			break;
		if (c != NULL)
			redisFree(c);
		if (waitpid(unit_redis_pid, NULL, WNOHANG) == unit_redis_pid) {
			unit_redis_pid = 0;
			unit_redis_fail("redis-server did not start (is it installed?)");
		}
		if (i == 500)
			unit_redis_fail("redis-server did not answer in 5 s");
		usleep(10000);
	}
	redisFree(c);
	snprintf(unit_redis_url, sizeof(unit_redis_url), "unix://%s", unit_redis_sock);
	gl_conf.redis_url = gl_conf.store_url = unit_redis_url;
	gl_conf.redis_timeout_ms = 2000;
	gl_conf.kept_keep_s = 3600; /* GALLEY_KEPT_KEEP_S's default (kept.h) */
}

/* Run an all-text command on it (a test's own look at what lib/ left): the reply's integer,
 * or its string's first bytes in str (may be NULL); -1 when neither. */
static inline long long
unit_redis(char *str, size_t size, int argc, const char **argv)
{
	redisReply *r = gl_redis_strv(GL_REDIS_STORE, argc, argv);
	long long n = -1;

	if (str != NULL)
		snprintf(str, size, "%s", r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "");
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	if (r != NULL)
		freeReplyObject(r);
	return n;
}

#endif
