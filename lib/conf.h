/*
 * conf: configuration from GALLEY_* environment variables.
 *
 * Every variable a service reads is a row in the table in conf.c, with its
 * default and bounds; gl_conf_load() checks them all once at start-up and
 * refuses to start on a bad value, so no later code re-parses the
 * environment.  The strings in gl_conf are borrowed from the environment.
 */
#ifndef GL_CONF_H
#define GL_CONF_H

struct gl_conf {
	const char *service;         /* the program's service name, e.g. "menu" */
	const char *mongo_uri;       /* GALLEY_MONGO_URI */
	const char *redis_url;       /* GALLEY_REDIS_URL: the cache, persists nothing */
	const char *store_url;       /* GALLEY_STORE_URL: the Redis whose AOF is on (redis.h) */
	const char *redis_sentinels; /* GALLEY_REDIS_SENTINELS: host:port,... or "" (sentinel.h) */
	const char *redis_master;    /* GALLEY_REDIS_MASTER: the cache's name there */
	const char *store_master;    /* GALLEY_STORE_MASTER: the store's name there */
	long store_wait_ms;          /* GALLEY_STORE_WAIT_MS a store write waits for a replica */
	const char *internal_url;    /* GALLEY_INTERNAL_URL: nginx's internal listener */
	const char *nginx_peers;     /* GALLEY_NGINX_PEERS: host:port naming every nginx, or "" */
	const char *log_level;       /* GALLEY_LOG_LEVEL: debug, info, warn, error */
	long cache_ttl;              /* GALLEY_CACHE_TTL seconds */
	long kept_keep_s;            /* GALLEY_KEPT_KEEP_S seconds a clean copy stays (kept.h) */
	long kept_hold_s;            /* GALLEY_KEPT_HOLD_S seconds a held document waits (kept.h) */
	long http_timeout_ms;        /* GALLEY_HTTP_TIMEOUT_MS for outbound calls */
	long db_timeout_ms;          /* GALLEY_DB_TIMEOUT_MS for server selection */
	long redis_timeout_ms;       /* GALLEY_REDIS_TIMEOUT_MS per command */
	long reservation_ttl;        /* GALLEY_RESERVATION_TTL seconds stock stays reserved */
	long token_ttl;              /* GALLEY_TOKEN_TTL seconds a sign-in lasts */
	const char *payment_api; /* GALLEY_PAYMENT_API: the provider's base URL (Stripe's API) */
	const char *payment_key; /* GALLEY_PAYMENT_KEY: its secret key, or ""; never logged */
	long payment_timeout_ms; /* GALLEY_PAYMENT_TIMEOUT_MS per call to the provider */
	long payment_give_up_s;  /* GALLEY_PAYMENT_GIVE_UP_S: a payment still processing fails */
	long kitchen_staff;      /* GALLEY_KITCHEN_STAFF cooks (threads) per kitchen process */
	long kitchen_seconds_per_item; /* GALLEY_KITCHEN_SECONDS_PER_ITEM a cook spends per unit */
	long slow_ms;            /* GALLEY_SLOW_MS: galley-pool logs a request running longer */
	long request_timeout_s;  /* GALLEY_REQUEST_TIMEOUT_S: galley-pool kills the worker after */
	long max_requests;       /* GALLEY_MAX_REQUESTS per worker, then it is recycled (0 never) */
	long queue_wait_ms;      /* GALLEY_QUEUE_WAIT_MS a public write may wait once a queue
	                            stands (admit.h); 0 = off */
	long queue_burst_ms;     /* GALLEY_QUEUE_BURST_MS a burst may wait (admit.h) */
	const char *admin_email; /* GALLEY_ADMIN_EMAIL: the first admin, or "" */
	const char *admin_password;    /* GALLEY_ADMIN_PASSWORD, or ""; never logged */
	const char *otlp_endpoint;     /* OTEL_EXPORTER_OTLP_ENDPOINT, or "": tracing off */
	const char *otel_service_name; /* OTEL_SERVICE_NAME, or "": "galley-<service>" */
};

extern struct gl_conf gl_conf;

/* Fill gl_conf for service; 0, or -1 after printing what is wrong. */
int gl_conf_load(const char *service);

#endif
