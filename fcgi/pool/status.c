/* The status server: GET / on the status socket answers the pool's status as JSON, GET
 * /metrics the same counters as Prometheus text. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

#define STATUS_CLIENTS (POOL_STATUS_FDS - 1)
#define STATUS_IN      2048 /* a request line and headers; more is refused */
#define STATUS_LIMIT   2000 /* ms a client has for its request and the answer */

/* A client: reading its request until out is set, then writing out. */
struct status_client {
	int fd; /* -1: free */
	int64_t deadline;
	char in[STATUS_IN];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

static struct status_client clients[STATUS_CLIENTS];
static bool clients_ready;

static void
status_init(void)
{
	if (clients_ready)
		return;
	for (int i = 0; i < STATUS_CLIENTS; i++)
		clients[i].fd = -1;
	clients_ready = true;
}

static void
status_drop(struct status_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
pool_status_close(void)
{
	status_init();
	for (int i = 0; i < STATUS_CLIENTS; i++)
		status_drop(&clients[i]);
}

static void
iso_time(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A string from the board, or null when it is not UTF-8 (the workers write it). */
static json_t *
board_string(const char *s)
{
	json_t *j = json_string(s);
	return j != NULL ? j : json_null();
}

static json_t *
status_count(long n)
{
	return n < 0 ? json_null() : json_integer(n);
}

/* What the workers are doing, counted over the board. */
struct status_counts {
	int active, idle, workers;
	uint64_t accepted;
};

/* Worker i's entry in "processes" (new; NULL when it has none), counted into c. */
static json_t *
status_proc(const struct pool *p, int i, int64_t now_ns, struct status_counts *c)
{
	const struct pool_worker *w = &p->w[i];
	struct gl_board_slot s;
	const char *state = "starting";
	json_t *request = json_null();
	char at[32];

	if (w->pid <= 0)
		return NULL;
	c->workers++;
	if (!gl_board_read(p->board, i, &s))
		memset(&s, 0, sizeof(s));
	c->accepted += s.requests;
	if (s.state == GL_BOARD_BUSY) {
		state = "busy";
		c->active++;
		request = json_pack("{s:o, s:o, s:o, s:I, s:o}", "method", board_string(s.method),
		                    "route", board_string(s.route), "request_id",
		                    board_string(s.request_id), "running_ms",
		                    (json_int_t)((now_ns - s.started_ns) / 1000000), "waiting_on",
		                    s.waiting_on[0] ? board_string(s.waiting_on) : json_null());
	} else if (s.state == GL_BOARD_IDLE) {
		state = "idle";
		c->idle++;
	}
	iso_time(at, sizeof(at), w->born_ms);
	return json_pack("{s:i, s:s, s:I, s:s, s:o}", "pid", (int)w->pid, "state", state,
	                 "requests", (json_int_t)s.requests, "started_at", at, "request",
	                 request != NULL ? request : json_null());
}

static json_t *
status_build(struct pool *p)
{
	int64_t now = pool_wall_ms();
	struct timespec mono;
	json_t *procs = json_array(), *st, *proc;
	char at[32];
	struct status_counts c = { .accepted = p->retired };

	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t now_ns = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec;
	for (int i = 0; i < p->workers; i++)
		if ((proc = status_proc(p, i, now_ns, &c)) != NULL)
			json_array_append_new(procs, proc);
	if ((uint64_t)c.active > p->max_active)
		p->max_active = (uint64_t)c.active;
	iso_time(at, sizeof(at), p->started_ms);
	st = json_pack("{s:s, s:i, s:s, s:i, s:s, s:I}", "service", p->service, "pool", p->number,
	               "listen", p->listen, "pid", (int)p->pid, "started_at", at, "uptime_s",
	               (json_int_t)((now - p->started_ms) / 1000));
	if (st == NULL) {
		json_decref(procs);
		return NULL;
	}
	json_object_set_new(st, "workers", json_integer(c.workers));
	json_object_set_new(st, "active", json_integer(c.active));
	json_object_set_new(st, "idle", json_integer(c.idle));
	json_object_set_new(st, "accepted", json_integer((json_int_t)c.accepted));
	json_object_set_new(st, "max_active", json_integer((json_int_t)p->max_active));
	json_object_set_new(st, "max_children_reached",
	                    json_integer((json_int_t)p->max_children_reached));
	json_object_set_new(st, "listen_queue", status_count(p->listen_queue));
	json_object_set_new(st, "max_listen_queue", status_count(p->max_listen_queue));
	json_object_set_new(st, "listen_queue_len", status_count(p->listen_queue_len));
	json_object_set_new(st, "slow_requests", json_integer((json_int_t)p->slow_requests));
	json_object_set_new(st, "timed_out", json_integer((json_int_t)p->timed_out));
	json_object_set_new(st, "recycled", json_integer((json_int_t)p->recycled));
	json_object_set_new(st, "respawned", json_integer((json_int_t)p->respawned));
	json_object_set_new(st, "slow_ms", json_integer(p->slow_ms));
	json_object_set_new(st, "request_timeout_s", json_integer(p->timeout_s));
	json_object_set_new(st, "max_requests", json_integer(p->max_requests));
	json_object_set_new(st, "processes", procs);
	return st;
}

char *
pool_status_json(struct pool *p)
{
	json_t *st = status_build(p);
	char *text =
	        st != NULL ? json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)
	                   : NULL;
	json_decref(st);
	return text;
}

/* GET /metrics: the same counters as Prometheus text, labelled with the pool, so that each
 * pool can be scraped on its own (a pod's status port) and nginx's /metrics/pools can merge
 * them (nginx/pools.js). A count the pool could not read (a queue length: null) is left out. */
static const struct {
	const char *name, *type, *help, *key;
} status_families[] = {
	{ "galley_pool_workers", "gauge", "Workers alive.", "workers" },
	{ "galley_pool_active_workers", "gauge", "Workers serving a request now.", "active" },
	{ "galley_pool_max_active_workers", "gauge", "Most workers busy at once since the start.",
	  "max_active" },
	{ "galley_pool_accepted_total", "counter", "Requests the pool's workers began.",
	  "accepted" },
	{ "galley_pool_max_children_reached_total", "counter",
	  "Stretches in which every worker was busy (sampled every 100 ms).",
	  "max_children_reached" },
	{ "galley_pool_listen_queue", "gauge", "Connections waiting in the listen queue now.",
	  "listen_queue" },
	{ "galley_pool_max_listen_queue", "gauge", "Longest listen queue seen since the start.",
	  "max_listen_queue" },
	{ "galley_pool_listen_queue_length", "gauge", "The listen queue's size (backlog).",
	  "listen_queue_len" },
	{ "galley_pool_slow_requests_total", "counter",
	  "Requests that ran longer than GALLEY_SLOW_MS.", "slow_requests" },
	{ "galley_pool_timed_out_total", "counter",
	  "Workers killed on a request older than GALLEY_REQUEST_TIMEOUT_S.", "timed_out" },
	{ "galley_pool_recycled_total", "counter", "Workers replaced after GALLEY_MAX_REQUESTS.",
	  "recycled" },
	{ "galley_pool_respawned_total", "counter", "Workers replaced after they died.",
	  "respawned" },
};

static char *
pool_metrics_text(struct pool *p)
{
	json_t *st = status_build(p);
	char service[64], *text = NULL;
	size_t len = 0, cap = 8192, j = 0;

	if (st == NULL || (text = malloc(cap)) == NULL) {
		json_decref(st);
		return NULL;
	}
	/* A label value: the service name without what would end or escape it. */
	for (const char *c = p->service; *c != '\0' && j < sizeof(service) - 1; c++)
		if (*c != '"' && *c != '\\' && *c != '\n')
			service[j++] = *c;
	service[j] = '\0';
	for (size_t i = 0; i < sizeof(status_families) / sizeof(status_families[0]); i++) {
		json_t *v = json_object_get(st, status_families[i].key);
		int n;
		if (!json_is_integer(v))
			continue;
		n = snprintf(text + len, cap - len,
		             "# HELP %s %s\n# TYPE %s %s\n%s{service=\"%s\",pool=\"%d\"} %lld\n",
		             status_families[i].name, status_families[i].help,
		             status_families[i].name, status_families[i].type,
		             status_families[i].name, service, p->number,
		             (long long)json_integer_value(v));
		if (n < 0 || (size_t)n >= cap - len) {
			free(text); /* cannot happen with these names: say so rather than cut */
			json_decref(st);
			return NULL;
		}
		len += (size_t)n;
	}
	json_decref(st);
	return text;
}

/* The answer to a whole request in c->in: the status, or 404/405/400 as JSON. */
static void
status_answer(struct pool *p, struct status_client *c)
{
	char method[8] = "", path[64] = "", head[256];
	int code = 200;
	const char *reason = "OK";
	char *body = NULL;
	bool metrics = false;

	c->in[c->in_len] = '\0';
	if (sscanf(c->in, "%7s %63s HTTP/1.%*c", method, path) != 2) {
		code = 400, reason = "Bad Request";
	} else if (strcmp(path, "/") != 0 && strcmp(path, "/metrics") != 0) {
		code = 404, reason = "Not Found";
	} else if (strcmp(method, "GET") != 0) {
		code = 405, reason = "Method Not Allowed";
	} else if (strcmp(path, "/metrics") == 0) {
		metrics = true;
		if ((body = pool_metrics_text(p)) == NULL)
			code = 500, reason = "Internal Server Error";
	} else if ((body = pool_status_json(p)) == NULL) {
		code = 500, reason = "Internal Server Error";
	}
	if (body == NULL) {
		const char *what = code == 404 ? "GET / for the pool's status" : reason;
		size_t n = strlen(what) + 64;
		if ((body = malloc(n)) == NULL)
			return;
		snprintf(body, n, "{\"error\":{\"message\":\"%s\"}}", what);
	}
	bool text = metrics && code == 200; /* Prometheus text ends its own lines */
	size_t blen = strlen(body), nl = text ? 0 : 1;
	int hlen = snprintf(head, sizeof(head),
	                    "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	                    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                    code, reason,
	                    text ? "text/plain; version=0.0.4; charset=utf-8" : "application/json",
	                    blen + nl, code == 405 ? "Allow: GET\r\n" : "");
	c->out = malloc((size_t)hlen + blen + 2);
	if (c->out != NULL) {
		memcpy(c->out, head, (size_t)hlen);
		memcpy(c->out + hlen, body, blen);
		c->out[hlen + blen] = '\n';
		c->out_len = (size_t)hlen + blen + nl;
		c->out_off = 0;
	}
	free(body);
}

int
pool_status_fds(const struct pool *p, struct pollfd *fds)
{
	int n = 0;

	status_init();
	fds[n++] = (struct pollfd){ .fd = p->status_fd, .events = POLLIN };
	for (int i = 0; i < STATUS_CLIENTS; i++)
		if (clients[i].fd >= 0)
			fds[n++] = (struct pollfd){ .fd = clients[i].fd,
				                    .events = clients[i].out ? POLLOUT : POLLIN };
	return n;
}

/* Read what a client sent; answer once its headers are complete. */
static void
status_read(struct pool *p, struct status_client *c)
{
	ssize_t got = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);

	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
		status_drop(c);
		return;
	}
	if (got < 0)
		return;
	c->in_len += (size_t)got;
	c->in[c->in_len] = '\0';
	if (strstr(c->in, "\r\n\r\n") != NULL || strstr(c->in, "\n\n") != NULL) {
		status_answer(p, c);
		if (c->out == NULL)
			status_drop(c);
	} else if (c->in_len >= sizeof(c->in) - 1) {
		status_drop(c); /* a request this long is not ours */
	}
}

static void
status_write(struct status_client *c)
{
	ssize_t put = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (put < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (put <= 0) {
		status_drop(c);
		return;
	}
	c->out_off += (size_t)put;
	if (c->out_off == c->out_len)
		status_drop(c); /* one request per connection */
}

void
pool_status_ready(struct pool *p, const struct pollfd *fds, int n)
{
	int64_t now = pool_mono_ms();

	status_init();
	for (int k = 1; k < n; k++) {
		for (int i = 0; i < STATUS_CLIENTS; i++) {
			struct status_client *c = &clients[i];
			if (c->fd != fds[k].fd || fds[k].revents == 0)
				continue;
			if (fds[k].revents & (POLLERR | POLLNVAL))
				status_drop(c);
			else if (c->out != NULL)
				status_write(c);
			else
				status_read(p, c);
			break;
		}
	}
	/* A slow client loses its place, never stalls the pool. */
	for (int i = 0; i < STATUS_CLIENTS; i++)
		if (clients[i].fd >= 0 && now > clients[i].deadline)
			status_drop(&clients[i]);
	if (n > 0 && (fds[0].revents & POLLIN)) {
		for (int tries = 0; tries < STATUS_CLIENTS; tries++) {
			int fd = accept4(p->status_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			int i = 0;
			if (fd < 0)
				break;
			while (i < STATUS_CLIENTS && clients[i].fd >= 0)
				i++;
			if (i == STATUS_CLIENTS) {
				close(fd); /* every place taken: this one is refused, not queued */
				continue;
			}
			clients[i].fd = fd;
			clients[i].deadline = now + STATUS_LIMIT;
		}
	}
}
