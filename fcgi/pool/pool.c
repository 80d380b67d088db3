/* galley-pool: the command line, the workers' lives and the loop (pool.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

#define TICK_MS     100   /* the scoreboard's sampling period */
#define KILL_GRACE  1000  /* ms after the timeout before the kill: nginx answers 504 first */
#define QUICK_DEATH 1000  /* ms: a worker dead this soon after its start is crash-looping */
#define BACKOFF_MIN 250   /* ms: the first wait before restarting a crash-looping worker */
#define BACKOFF_MAX 10000 /* ms: the longest */

static const char usage[] =
        "usage: galley-pool --listen ADDR --workers N [--status ADDR] [--name SVC-N] -- "
        "/abs/path/to/galley-<svc> [args]\n"
        "  ADDR: unix:/path/to/x.sock or HOST:PORT (IPv4)\n";

/* A bad command line or setting: say which and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2))) die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("galley-pool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

int64_t
pool_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pool_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
pool_log(const struct pool *p, const char *level, const char *request_id, const char *msg,
         json_t *fields)
{
	struct timeval tv;
	struct tm tm;
	char ts[64];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(tv.tv_usec / 1000));
	/* lib/log.c's shape: the common fields first, then the message and the rest. */
	json_t *line = json_pack("{s:s, s:s, s:s, s:i}", "ts", ts, "level", level, "service",
	                         p->service, "pid", (int)getpid());
	if (line != NULL && request_id != NULL && *request_id != '\0') {
		json_t *id = json_string(request_id);
		if (id != NULL)
			json_object_set_new(line, "request_id", id);
	}
	if (line != NULL) {
		json_object_set_new(line, "msg", json_string(msg));
		json_object_set_new(line, "pool", json_integer(p->number));
		if (fields != NULL)
			json_object_update(line, fields);
	}
	json_decref(fields);
	char *text =
	        line != NULL
	                ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)
	                : NULL;
	json_decref(line);
	if (text != NULL) {
		size_t n = strlen(text); /* one write per line: no interleaving with the workers */
		text[n] = '\n';
		(void)!write(STDERR_FILENO, text, n + 1);
		free(text);
	}
}

/* An environment setting: a decimal in [min, max], def when unset or empty. */
static long
env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die_usage("%s must be a whole number in %ld..%ld, got '%s'", name, min, max, s);
	return v;
}

/* Bind and listen on the Unix socket at path (absolute), a stale socket file removed. */
static int
bind_unix(const char *what, const char *addr, const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
		die_usage("%s '%s': a Unix socket needs an absolute path shorter than %zu bytes",
		          what, addr, sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	/* A stale socket file (a pool that was killed) is ours to remove; anything else is not. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			die_usage("%s '%s': the path exists and is not a socket", what, addr);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, backlog) < 0) {
		fprintf(stderr, "galley-pool: %s %s: %s\n", what, addr, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Bind and listen on HOST:PORT (IPv4). */
static int
bind_inet(const char *what, const char *addr, int backlog)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in sin;
	char host[256], *end;
	int fd, one = 1;
	long port;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		die_usage("%s '%s': use unix:/path/to/x.sock or HOST:PORT", what, addr);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
		die_usage("%s '%s': the port must be 1..65535", what, addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
		die_usage("%s '%s': '%s' is not an IPv4 address or a name of one", what, addr,
		          host);
	sin = *(struct sockaddr_in *)ai->ai_addr;
	freeaddrinfo(ai);
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, backlog) < 0) {
		fprintf(stderr, "galley-pool: %s %s: %s\n", what, addr, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Bind ADDR (unix:/path or HOST:PORT), listening with backlog; exits 2 on a bad address.
 * path gets the socket file's path for a Unix address ("" otherwise). */
static int
bind_addr(const char *what, const char *addr, int backlog, bool *is_unix, char *path)
{
	int fd;

	path[0] = '\0';
	*is_unix = strncmp(addr, "unix:", 5) == 0;
	if (!*is_unix)
		return bind_inet(what, addr, backlog);
	fd = bind_unix(what, addr, addr + 5, backlog);
	strcpy(path, addr + 5);
	return fd;
}

/* --name SVC-N: the service and the pool's number; without one, the binary's name. */
static void
parse_name(struct pool *p, const char *name)
{
	const char *dash = strrchr(name, '-');

	if (strlen(name) >= sizeof(p->service) || *name == '\0')
		die_usage("--name '%s': at most %zu characters", name, sizeof(p->service) - 1);
	snprintf(p->service, sizeof(p->service), "%s", name);
	p->number = 0;
	if (dash != NULL && dash != name && dash[1] != '\0' && strlen(dash + 1) <= 4 &&
	    strspn(dash + 1, "0123456789") == strlen(dash + 1)) {
		p->service[dash - name] = '\0';
		p->number = atoi(dash + 1);
	}
}

static void
parse_args(struct pool *p, int argc, char **argv)
{
	const char *name = NULL, *workers = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (i + 1 >= argc)
			die_usage("%s needs a value\n%s", a, usage);
		if (strcmp(a, "--listen") == 0)
			snprintf(p->listen, sizeof(p->listen), "%s", argv[++i]);
		else if (strcmp(a, "--status") == 0)
			snprintf(p->status_addr, sizeof(p->status_addr), "%s", argv[++i]);
		else if (strcmp(a, "--workers") == 0)
			workers = argv[++i];
		else if (strcmp(a, "--name") == 0)
			name = argv[++i];
		else
			die_usage("unknown option '%s'\n%s", a, usage);
	}
	if (p->listen[0] == '\0' || workers == NULL || i >= argc)
		die_usage("--listen, --workers and the service's binary are required\n%s", usage);
	if (strlen(argv[i]) > PATH_MAX || argv[i][0] != '/')
		die_usage("the binary must be an absolute path, got '%s'", argv[i]);
	if (access(argv[i], X_OK) != 0)
		die_usage("%s: %s", argv[i], strerror(errno));
	p->binary = argv[i];
	p->argv = argv + i;

	char *end;
	errno = 0;
	long n = strtol(workers, &end, 10);
	if (*workers == '\0' || *end != '\0' || errno != 0 || n < 1 || n > GL_BOARD_MAX)
		die_usage("--workers must be 1..%d, got '%s'", GL_BOARD_MAX, workers);
	p->workers = (int)n;

	if (name == NULL) {
		const char *base = strrchr(p->binary, '/') + 1;
		name = strncmp(base, "galley-", 7) == 0 ? base + 7 : base;
	}
	parse_name(p, name);
}

/* GALLEY_SLOW_MS and the rest: checked before anything is bound. */
static void
read_settings(struct pool *p)
{
	p->slow_ms = env_long("GALLEY_SLOW_MS", 1000, 0, 86400000);
	p->timeout_s = env_long("GALLEY_REQUEST_TIMEOUT_S", 30, 0, 86400);
	p->max_requests = env_long("GALLEY_MAX_REQUESTS", 0, 0, 1000000000);
	p->backlog = (int)env_long("GALLEY_LISTEN_BACKLOG", 1024, 1, 65535);
	p->stop_timeout_s = env_long("GALLEY_STOP_TIMEOUT", 10, 0, 3600);
}

/* The status address: --status, else beside a Unix listen socket (x.sock -> x.status). */
static void
status_default(struct pool *p)
{
	const char *path;
	size_t n;

	if (p->status_addr[0] != '\0' || strncmp(p->listen, "unix:", 5) != 0)
		return;
	path = p->listen + 5;
	n = strlen(path);
	if (n > 5 && strcmp(path + n - 5, ".sock") == 0)
		n -= 5;
	if (n + 12 > sizeof(p->status_addr))
		die_usage("--listen '%s': too long to put the status socket beside it (--status)",
		          p->listen);
	memcpy(p->status_addr, "unix:", 5);
	memcpy(p->status_addr + 5, path, n);
	strcpy(p->status_addr + 5 + n, ".status");
}

/* Start a worker on slot i: the listening socket as its fd 0, the board's fd and its slot in
 * the environment. */
static void
spawn_worker(struct pool *p, int i)
{
	struct pool_worker *w = &p->w[i];
	struct gl_board_slot *s = &p->board[i];
	pid_t pid;

	gl_board_write_begin(s);
	s->state = GL_BOARD_STARTING;
	s->pid = 0;
	s->recycling = 0;
	s->requests = 0;
	s->started_ns = 0;
	s->method[0] = s->route[0] = s->request_id[0] = s->waiting_on[0] = '\0';
	gl_board_write_end(s);
	pid = fork();
	if (pid < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "fork failed: %s; trying again", strerror(errno));
		pool_log(p, "error", NULL, msg, NULL);
		w->start_at = pool_mono_ms() + BACKOFF_MIN;
		return;
	}
	if (pid == 0) {
		char fd[16], slot[16], slots[16];
		sigset_t none;

		/* A manager killed with SIGKILL must not leave its workers serving, unseen. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != p->pid)
			_exit(1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (p->listen_fd != 0) {
			if (dup2(p->listen_fd, 0) < 0)
				_exit(1);
		} else {
			fcntl(0, F_SETFD, 0); /* fd 0 already: only its close-on-exec goes */
		}
		snprintf(fd, sizeof(fd), "%d", p->board_fd);
		snprintf(slot, sizeof(slot), "%d", i);
		snprintf(slots, sizeof(slots), "%d", p->workers);
		if (setenv("GALLEY_BOARD_FD", fd, 1) < 0 ||
		    setenv("GALLEY_BOARD_SLOT", slot, 1) < 0 ||
		    setenv("GALLEY_BOARD_SLOTS", slots, 1) < 0)
			_exit(1);
		execv(p->binary, p->argv);
		dprintf(2, "galley-pool: exec %s: %s\n", p->binary, strerror(errno));
		_exit(127);
	}
	w->pid = pid;
	w->born_ms = pool_wall_ms();
	w->born_mono = pool_mono_ms();
	w->slow_seen = 0;
	w->killed = false;
}

/* A worker ended: count why, and when its replacement may start. */
static void
reap(struct pool *p, pid_t pid, int status, bool stopping)
{
	struct gl_board_slot s;
	int i;

	for (i = 0; i < p->workers; i++)
		if (p->w[i].pid == pid)
			break;
	if (i == p->workers)
		return; /* not a worker of ours */
	struct pool_worker *w = &p->w[i];
	if (!gl_board_read(p->board, i, &s))
		memset(&s, 0, sizeof(s));
	p->retired += s.requests;
	int64_t lived = pool_mono_ms() - w->born_mono;
	w->pid = 0;
	w->start_at = 0;
	if (stopping) {
		/* No replacement, nothing to count. */
	} else if (w->killed) {
		w->backoff_ms = 0; /* timed out: counted when killed, replaced at once */
	} else if (s.recycling && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		p->recycled++;
		w->backoff_ms = 0;
	} else {
		char msg[200];
		p->respawned++;
		if (lived < QUICK_DEATH) {
			w->backoff_ms = w->backoff_ms == 0 ? BACKOFF_MIN : w->backoff_ms * 2;
			if (w->backoff_ms > BACKOFF_MAX)
				w->backoff_ms = BACKOFF_MAX;
			w->start_at = pool_mono_ms() + w->backoff_ms;
		} else {
			w->backoff_ms = 0;
		}
		if (WIFSIGNALED(status))
			snprintf(msg, sizeof(msg), "worker %d killed by signal %d after %lld ms",
			         (int)pid, WTERMSIG(status), (long long)lived);
		else
			snprintf(msg, sizeof(msg), "worker %d exited with status %d after %lld ms",
			         (int)pid, WEXITSTATUS(status), (long long)lived);
		if (w->backoff_ms > 0)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			         "; it died at once, so the next start waits %lld ms",
			         (long long)w->backoff_ms);
		pool_log(p, "warn", NULL, msg,
		         s.state == GL_BOARD_BUSY ? json_pack("{s:s, s:s}", "route", s.route,
		                                              "request_id_lost", s.request_id)
		                                  : NULL);
	}
	gl_board_write_begin(&p->board[i]);
	p->board[i].state = GL_BOARD_EMPTY;
	p->board[i].requests = 0;
	gl_board_write_end(&p->board[i]);
}

/* The 100 ms look at the board: slow requests, timeouts, the counters. */
static void
sample(struct pool *p)
{
	struct timespec mono;
	int active = 0, alive = 0;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t now_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
	for (int i = 0; i < p->workers; i++) {
		struct pool_worker *w = &p->w[i];
		struct gl_board_slot s;

		if (w->pid <= 0 || w->killed)
			continue;
		alive++;
		if (!gl_board_read(p->board, i, &s) || s.state != GL_BOARD_BUSY)
			continue;
		active++;
		int64_t ms = (now_ns - s.started_ns) / 1000000;
		json_t *what =
		        json_pack("{s:s, s:s, s:I, s:s?, s:i}", "method", s.method, "route",
		                  s.route, "running_ms", (json_int_t)ms, "waiting_on",
		                  s.waiting_on[0] ? s.waiting_on : NULL, "worker", (int)w->pid);
		if (p->timeout_s > 0 && ms >= p->timeout_s * 1000 + KILL_GRACE) {
			char msg[160];
			snprintf(msg, sizeof(msg),
			         "request timeout: killed worker %d after %lld ms on one request "
			         "(GALLEY_REQUEST_TIMEOUT_S=%ld)",
			         (int)w->pid, (long long)ms, p->timeout_s);
			kill(w->pid, SIGKILL);
			w->killed = true;
			p->timed_out++;
			pool_log(p, "error", s.request_id, msg, what);
			what = NULL;
		} else if (p->slow_ms > 0 && ms >= p->slow_ms && w->slow_seen != s.requests) {
			char msg[96];
			w->slow_seen = s.requests;
			p->slow_requests++;
			snprintf(msg, sizeof(msg), "slow request: running for more than %ld ms",
			         p->slow_ms);
			pool_log(p, "warn", s.request_id, msg, what);
			what = NULL;
		}
		json_decref(what);
	}
	if ((uint64_t)active > p->max_active)
		p->max_active = (uint64_t)active;
	/* max_children_reached: samples that found every worker busy, once per stretch. */
	bool all = alive > 0 && active == alive;
	if (all && !p->all_busy)
		p->max_children_reached++;
	p->all_busy = all;
	long q, backlog;
	pool_queue(p, &q, &backlog);
	p->listen_queue = q;
	if (backlog >= 0)
		p->listen_queue_len = backlog;
	if (q > p->max_listen_queue)
		p->max_listen_queue = q;
}

static void
cleanup(struct pool *p)
{
	pool_status_close();
	if (p->listen_path[0] != '\0')
		unlink(p->listen_path);
	if (p->status_path[0] != '\0')
		unlink(p->status_path);
}

/* Signals (through a signalfd, polled with the status socket), the sockets, the board; the
 * signalfd, or -1 when the pool cannot start (said on stderr). */
static int
pool_start(struct pool *p)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	p->listen_fd =
	        bind_addr("--listen", p->listen, p->backlog, &p->listen_unix, p->listen_path);
	p->status_fd = -1;
	if (p->status_addr[0] != '\0') {
		p->status_fd =
		        bind_addr("--status", p->status_addr, 16, &p->status_unix, p->status_path);
		fcntl(p->status_fd, F_SETFL, fcntl(p->status_fd, F_GETFL) | O_NONBLOCK);
	}
	/* The board: kept open across exec (no close-on-exec) for the workers to map. */
	p->board_fd = memfd_create("galley-board", 0);
	if (sfd < 0 || p->board_fd < 0 ||
	    ftruncate(p->board_fd, (off_t)gl_board_size(p->workers)) < 0 ||
	    (p->board = mmap(NULL, gl_board_size(p->workers), PROT_READ | PROT_WRITE, MAP_SHARED,
	                     p->board_fd, 0)) == MAP_FAILED) {
		fprintf(stderr, "galley-pool: the scoreboard: %s\n", strerror(errno));
		return -1;
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "starting a pool of %d workers", p->workers);
	pool_log(p, "info", NULL, msg,
	         json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i}", "binary", p->binary, "listen",
	                   p->listen, "status", p->status_addr[0] ? p->status_addr : "none",
	                   "slow_ms", (int)p->slow_ms, "request_timeout_s", (int)p->timeout_s,
	                   "max_requests", (int)p->max_requests, "listen_backlog", p->backlog));
	return sfd;
}

/* Send every worker sig. */
static void
signal_workers(const struct pool *p, int sig)
{
	for (int i = 0; i < p->workers; i++)
		if (p->w[i].pid > 0)
			kill(p->w[i].pid, sig);
}

/* Whether the pool is stopping, and by when its workers must have finished. */
struct pool_stop {
	bool stopping;
	int64_t deadline;
};

/* Read the signals sfd holds: SIGTERM or SIGINT begins the stop; reap the workers that
 * ended. */
static void
pool_signals(struct pool *p, int sfd, struct pool_stop *st)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int status;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !st->stopping) {
			st->stopping = true;
			st->deadline = pool_mono_ms() + p->stop_timeout_s * 1000;
			pool_log(p, "info", NULL, "stopping: the workers finish their requests",
			         NULL);
			signal_workers(p, SIGTERM);
		}
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reap(p, pid, status, st->stopping);
}

/* While stopping: true once no worker is left; past the deadline, kill the rest. */
static bool
pool_stopped(struct pool *p, struct pool_stop *st, int64_t now)
{
	int left = 0;

	for (int i = 0; i < p->workers; i++)
		left += p->w[i].pid > 0;
	if (left == 0)
		return true;
	if (now >= st->deadline) {
		pool_log(p, "error", NULL,
		         "workers still running after GALLEY_STOP_TIMEOUT: SIGKILL", NULL);
		signal_workers(p, SIGKILL);
		st->deadline = now + 1000 * 3600;
	}
	return false;
}

int
main(int argc, char **argv)
{
	static struct pool pool;
	struct pool *p = &pool;
	struct pollfd fds[1 + POOL_STATUS_FDS];
	struct pool_stop st = { false, 0 };
	int64_t next_tick;
	int sfd;

	parse_args(p, argc, argv);
	read_settings(p);
	status_default(p);
	p->pid = getpid();
	p->started_ms = pool_wall_ms();
	p->listen_queue = p->max_listen_queue = -1;
	p->listen_queue_len = p->backlog;
	if ((sfd = pool_start(p)) < 0) {
		cleanup(p);
		return 1;
	}
	for (int i = 0; i < p->workers; i++)
		spawn_worker(p, i);
	sample(p); /* the listen queue is known from the first status on */

	next_tick = pool_mono_ms() + TICK_MS;
	for (;;) {
		int n = 0;
		fds[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		n += pool_status_fds(p, fds + n);
		int64_t now = pool_mono_ms();
		int wait = next_tick > now ? (int)(next_tick - now) : 0;
		if (poll(fds, (nfds_t)n, wait) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			pool_signals(p, sfd, &st);
		pool_status_ready(p, fds + 1, n - 1);
		now = pool_mono_ms();
		if (st.stopping && pool_stopped(p, &st, now))
			break;
		if (now < next_tick)
			continue;
		next_tick = now + TICK_MS;
		if (!st.stopping)
			for (int i = 0; i < p->workers; i++)
				if (p->w[i].pid == 0 && now >= p->w[i].start_at)
					spawn_worker(p, i);
		sample(p);
	}
	cleanup(p);
	pool_log(p, "info", NULL, "stopped", NULL);
	return 0;
}
