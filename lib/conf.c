#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

struct gl_conf gl_conf;

enum conf_kind { CONF_STR, CONF_LONG };

struct conf_var {
	const char *name;
	enum conf_kind kind;
	const char *def;
	long min, max;
	void *dst;
};

static const struct conf_var conf_vars[] = {
	{ "GALLEY_MONGO_URI", CONF_STR, "mongodb://127.0.0.1:27017", 0, 0, &gl_conf.mongo_uri },
	{ "GALLEY_REDIS_URL", CONF_STR, "redis://127.0.0.1:6379/0", 0, 0, &gl_conf.redis_url },
	{ "GALLEY_STORE_URL", CONF_STR, "redis://127.0.0.1:6380/0", 0, 0, &gl_conf.store_url },
	{ "GALLEY_REDIS_SENTINELS", CONF_STR, "", 0, 0, &gl_conf.redis_sentinels },
	{ "GALLEY_REDIS_MASTER", CONF_STR, "galley-cache", 0, 0, &gl_conf.redis_master },
	{ "GALLEY_STORE_MASTER", CONF_STR, "galley-store", 0, 0, &gl_conf.store_master },
	{ "GALLEY_STORE_WAIT_MS", CONF_LONG, "200", 0, 10000, &gl_conf.store_wait_ms },
	{ "GALLEY_INTERNAL_URL", CONF_STR, "http://127.0.0.1:8081", 0, 0, &gl_conf.internal_url },
	{ "GALLEY_NGINX_PEERS", CONF_STR, "", 0, 0, &gl_conf.nginx_peers },
	{ "GALLEY_LOG_LEVEL", CONF_STR, "info", 0, 0, &gl_conf.log_level },
	{ "GALLEY_CACHE_TTL", CONF_LONG, "300", 1, 86400, &gl_conf.cache_ttl },
	/* kept.h: at least 20 minutes, so that what was made within a reservation's 15 (an
	 * order, its payment) is never looked for in MongoDB. */
	{ "GALLEY_KEPT_KEEP_S", CONF_LONG, "3600", 1200, 604800, &gl_conf.kept_keep_s },
	{ "GALLEY_KEPT_HOLD_S", CONF_LONG, "1200", 0, 3600, &gl_conf.kept_hold_s },
	{ "GALLEY_HTTP_TIMEOUT_MS", CONF_LONG, "2000", 50, 60000, &gl_conf.http_timeout_ms },
	{ "GALLEY_DB_TIMEOUT_MS", CONF_LONG, "2000", 50, 60000, &gl_conf.db_timeout_ms },
	{ "GALLEY_REDIS_TIMEOUT_MS", CONF_LONG, "500", 10, 10000, &gl_conf.redis_timeout_ms },
	{ "GALLEY_RESERVATION_TTL", CONF_LONG, "900", 1, 86400, &gl_conf.reservation_ttl },
	{ "GALLEY_TOKEN_TTL", CONF_LONG, "86400", 60, 2592000, &gl_conf.token_ttl },
	{ "GALLEY_PAYMENT_API", CONF_STR, "https://api.stripe.com", 0, 0, &gl_conf.payment_api },
	{ "GALLEY_PAYMENT_KEY", CONF_STR, "", 0, 0, &gl_conf.payment_key },
	{ "GALLEY_PAYMENT_TIMEOUT_MS", CONF_LONG, "10000", 100, 120000,
	  &gl_conf.payment_timeout_ms },
	{ "GALLEY_PAYMENT_GIVE_UP_S", CONF_LONG, "86400", 10, 604800, &gl_conf.payment_give_up_s },
	{ "GALLEY_KITCHEN_STAFF", CONF_LONG, "2", 1, 32, &gl_conf.kitchen_staff },
	{ "GALLEY_KITCHEN_SECONDS_PER_ITEM", CONF_LONG, "30", 0, 3600,
	  &gl_conf.kitchen_seconds_per_item },
	{ "GALLEY_ADMIN_EMAIL", CONF_STR, "", 0, 0, &gl_conf.admin_email },
	{ "GALLEY_ADMIN_PASSWORD", CONF_STR, "", 0, 0, &gl_conf.admin_password },
	/* Read by galley-pool (fcgi/pool/); in this table so every worker sees them checked and
	 * bin/galley records them for restart-pool. */
	{ "GALLEY_SLOW_MS", CONF_LONG, "1000", 0, 86400000, &gl_conf.slow_ms },
	{ "GALLEY_REQUEST_TIMEOUT_S", CONF_LONG, "30", 0, 86400, &gl_conf.request_timeout_s },
	{ "GALLEY_MAX_REQUESTS", CONF_LONG, "0", 0, 1000000000, &gl_conf.max_requests },
	/* Read by each worker (admit.h); per service too, as galley-pool's are. */
	{ "GALLEY_QUEUE_WAIT_MS", CONF_LONG, "25", 0, 60000, &gl_conf.queue_wait_ms },
	{ "GALLEY_QUEUE_BURST_MS", CONF_LONG, "100", 1, 60000, &gl_conf.queue_burst_ms },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", CONF_STR, "", 0, 0, &gl_conf.otlp_endpoint },
	{ "OTEL_SERVICE_NAME", CONF_STR, "", 0, 0, &gl_conf.otel_service_name },
	{ NULL, 0, NULL, 0, 0, NULL },
};

int
gl_conf_load(const char *service)
{
	const struct conf_var *v;
	const char *s;
	char *end;
	long n;

	gl_conf.service = service;
	for (v = conf_vars; v->name != NULL; v++) {
		s = getenv(v->name);
		if (s == NULL || *s == '\0')
			s = v->def;
		if (v->kind == CONF_STR) {
			if (strlen(s) > 1024) {
				fprintf(stderr, "galley-%s: %s is longer than 1024 bytes\n",
				        service, v->name);
				return -1;
			}
			*(const char **)v->dst = s;
			continue;
		}
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno != 0 || end == s || *end != '\0' || n < v->min || n > v->max) {
			fprintf(stderr, "galley-%s: %s must be an integer in %ld..%ld\n", service,
			        v->name, v->min, v->max);
			return -1;
		}
		*(long *)v->dst = n;
	}
	if (strcmp(gl_conf.log_level, "debug") != 0 && strcmp(gl_conf.log_level, "info") != 0 &&
	    strcmp(gl_conf.log_level, "warn") != 0 && strcmp(gl_conf.log_level, "error") != 0) {
		fprintf(stderr, "galley-%s: GALLEY_LOG_LEVEL must be debug, info, warn or error\n",
		        service);
		return -1;
	}
	if (*gl_conf.otlp_endpoint != '\0' && strncmp(gl_conf.otlp_endpoint, "http://", 7) != 0 &&
	    strncmp(gl_conf.otlp_endpoint, "https://", 8) != 0) {
		fprintf(stderr,
		        "galley-%s: OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL\n",
		        service);
		return -1;
	}
	return 0;
}
