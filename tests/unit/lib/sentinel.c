/*
 * Unit tests of lib/sentinel.c: asking Sentinels where a primary is.  A fake Sentinel (a
 * thread on a loopback port) answers each connection's one command with a canned RESP reply;
 * a port nobody listens on stands for a Sentinel that is down.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tap.h"
#include "conf.h"
#include "sentinel.h"

static int fake_fd;
static const char *fake_reply; /* what the fake Sentinel answers, RESP */
static char fake_got[256];     /* the last command it was sent */

static void *
fake_sentinel(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(fake_fd, NULL, NULL);
		ssize_t n;

		if (c < 0)
			return NULL;
		n = read(c, fake_got, sizeof(fake_got) - 1);
		fake_got[n > 0 ? n : 0] = '\0';
		if (write(c, fake_reply, strlen(fake_reply)) < 0)
			perror("write");
		close(c);
	}
}

/* A loopback port bound and then closed: nobody listens there. */
static int
dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int
ask(const char *list, char *host, size_t hostlen, int *port)
{
	gl_conf.redis_sentinels = list;
	host[0] = '\0';
	*port = 0;
	return gl_sentinel_primary("galley-store", host, hostlen, port);
}

int
main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	pthread_t t;
	char list[128], host[64];
	int port, live, dead = dead_port();

	gl_conf.redis_timeout_ms = 500;
	fake_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(fake_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fake_fd, 8) < 0 ||
	    getsockname(fake_fd, (struct sockaddr *)&a, &len) < 0 ||
	    pthread_create(&t, NULL, fake_sentinel, NULL) != 0) {
		printf("Bail out! no fake Sentinel\n");
		return 1;
	}
	live = ntohs(a.sin_port);

	gl_conf.redis_sentinels = "";
	ok(!gl_sentinel_on(), "no list: Sentinels off");
	gl_conf.redis_sentinels = "127.0.0.1:1";
	ok(gl_sentinel_on(), "a list: on");

	fake_reply = "*2\r\n$9\r\n127.0.0.7\r\n$4\r\n6390\r\n";
	snprintf(list, sizeof(list), "127.0.0.1:%d", live);
	ok(ask(list, host, sizeof(host), &port) == 0, "one Sentinel that knows: found");
	is_str(host, "127.0.0.7", "its host");
	ok(port == 6390, "its port");
	ok(strstr(fake_got, "get-master-addr-by-name") != NULL && strstr(fake_got, "galley-store"),
	   "asked by the master's name");

	snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", dead, live);
	ok(ask(list, host, sizeof(host), &port) == 0 && port == 6390,
	   "the first one down: the next one answers");

	fake_reply = "*-1\r\n";
	ok(ask(list, host, sizeof(host), &port) == -1, "a master no Sentinel knows: -1");
	fake_reply = "-ERR unknown command\r\n";
	ok(ask(list, host, sizeof(host), &port) == -1, "an error reply: -1");
	fake_reply = "*2\r\n$9\r\n127.0.0.7\r\n$5\r\n65536\r\n";
	ok(ask(list, host, sizeof(host), &port) == -1, "a port out of range: -1");
	fake_reply = "*2\r\n$9\r\n127.0.0.7\r\n$4\r\n6390\r\n";
	ok(ask(list, host, 9, &port) == -1, "a host longer than the room for it: -1");
	snprintf(list, sizeof(list), "127.0.0.1:%d", dead);
	ok(ask(list, host, sizeof(host), &port) == -1, "every Sentinel down: -1");

	ok(ask("127.0.0.1", host, sizeof(host), &port) == -1, "no port: -1");
	ok(ask("127.0.0.1:0", host, sizeof(host), &port) == -1, "port 0: -1");
	snprintf(list, sizeof(list), "127.0.0.1:%d,", live);
	ok(ask(list, host, sizeof(host), &port) == -1, "an empty entry: -1");
	snprintf(list, sizeof(list), "127.0.0.1:%d,,127.0.0.1:%d", live, live);
	ok(ask(list, host, sizeof(host), &port) == -1, "an empty entry between: -1");
	ok(ask(":26379", host, sizeof(host), &port) == -1, "no host: -1");
	ok(ask("a:1,a:1,a:1,a:1,a:1,a:1,a:1,a:1,a:1,a:1", host, sizeof(host), &port) == -1,
	   "more than nine: -1");
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
