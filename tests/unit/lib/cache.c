/* Unit tests for lib/cache.c (key building) and lib/conf.c (environment). */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "cache.h"
#include "conf.h"

#define OID   "5f1e2d3c4b5a69788796a5b4"
#define GUARD ((char)0x5a)

static void
test_key(void)
{
	char buf[GL_CACHE_KEY_MAX];

	gl_conf.service = "menu";
	ok(gl_cache_key(buf, sizeof(buf), "item", OID) == 0, "key with id fits");
	is_str(buf, "galley:menu:item:" OID, "key with id");
	ok(gl_cache_key(buf, sizeof(buf), "available", NULL) == 0, "key without id fits");
	is_str(buf, "galley:menu:available", "key without id");
	gl_conf.service = "suppliers";
	ok(gl_cache_key(buf, sizeof(buf), "supplier", OID) == 0, "other service");
	is_str(buf, "galley:suppliers:supplier:" OID, "key uses gl_conf.service");
	gl_conf.service = "orders";
	ok(gl_cache_key_of(buf, sizeof(buf), "menu", "item", OID) == 0,
	   "another service's key fits");
	is_str(buf, "galley:menu:item:" OID, "another service's key is the one it makes itself");
	ok(gl_cache_key_of(buf, 18, "menu", "item", OID) == -1,
	   "and does not fit where it does not");
	gl_conf.service = "menu";
}

/* Every size from 0 to the exact fit: -1 until it fits, and never a byte past size. */
static void
test_key_bounds(void)
{
	const char *want = "galley:menu:item:" OID; /* 41 bytes + NUL */
	size_t need = strlen(want) + 1;
	char area[64 + 1];
	int overflow = 0, wrong = 0;

	gl_conf.service = "menu";
	for (size_t size = 0; size <= need + 2; size++) {
		memset(area, GUARD, sizeof(area));
		int r = gl_cache_key(area, size, "item", OID);
		for (size_t k = size; k < sizeof(area); k++)
			if (area[k] != GUARD)
				overflow++;
		if ((size < need && r != -1) ||
		    (size >= need && (r != 0 || strcmp(area, want) != 0)))
			wrong++;
		if (size > 0 && size < need && memchr(area, '\0', size) == NULL)
			wrong++;
	}
	ok(overflow == 0, "no write past the buffer for any size (%d bytes)", overflow);
	ok(wrong == 0, "-1 below %zu bytes, the key from %zu on (%d wrong)", need, need, wrong);

	/* the same with the small buffer the brief names */
	struct {
		char buf[16];
		char guard;
	} s;
	s.guard = GUARD;
	ok(gl_cache_key(s.buf, sizeof(s.buf), "item", OID) == -1, "16-byte buffer -> -1");
	ok(s.guard == GUARD, "guard byte intact");
	ok(gl_cache_key(s.buf, sizeof(s.buf), "availability", NULL) == -1,
	   "16-byte buffer, no id -> -1");
	ok(s.guard == GUARD, "guard byte intact (no id)");

	/* exactly filling GL_CACHE_KEY_MAX: 127 characters fit, 128 do not */
	char id[GL_CACHE_KEY_MAX + 1];
	char buf[GL_CACHE_KEY_MAX + 1];
	size_t prefix = strlen("galley:menu:x:");
	memset(id, 'i', sizeof(id));
	id[GL_CACHE_KEY_MAX - 1 - prefix] = '\0';
	buf[GL_CACHE_KEY_MAX] = GUARD;
	ok(gl_cache_key(buf, GL_CACHE_KEY_MAX, "x", id) == 0, "127-char key fits");
	ok(strlen(buf) == GL_CACHE_KEY_MAX - 1, "127 chars written");
	id[GL_CACHE_KEY_MAX - 1 - prefix] = 'i';
	id[GL_CACHE_KEY_MAX - prefix] = '\0';
	ok(gl_cache_key(buf, GL_CACHE_KEY_MAX, "x", id) == -1, "128-char key refused");
	ok(buf[GL_CACHE_KEY_MAX] == GUARD, "guard byte intact at GL_CACHE_KEY_MAX");
}

static const char *const conf_env[] = {
	"GALLEY_MONGO_URI",     "GALLEY_REDIS_URL",        "GALLEY_INTERNAL_URL",
	"GALLEY_LOG_LEVEL",     "GALLEY_CACHE_TTL",        "GALLEY_HTTP_TIMEOUT_MS",
	"GALLEY_DB_TIMEOUT_MS", "GALLEY_REDIS_TIMEOUT_MS",
};

static void
clear_env(void)
{
	for (size_t i = 0; i < sizeof(conf_env) / sizeof(conf_env[0]); i++)
		unsetenv(conf_env[i]);
}

static void
test_conf_defaults(void)
{
	clear_env();
	memset(&gl_conf, 0, sizeof(gl_conf));
	ok(gl_conf_load("menu") == 0, "defaults load");
	is_str(gl_conf.service, "menu", "service set");
	ok(gl_conf.cache_ttl == 300, "cache_ttl 300 (got %ld)", gl_conf.cache_ttl);
	is_str(gl_conf.log_level, "info", "log_level info");
	ok(gl_conf.mongo_uri != NULL && strncmp(gl_conf.mongo_uri, "mongodb://", 10) == 0,
	   "mongo_uri default");
	ok(gl_conf.redis_url != NULL && strncmp(gl_conf.redis_url, "redis://", 8) == 0,
	   "redis_url default");
	ok(gl_conf.internal_url != NULL && strncmp(gl_conf.internal_url, "http", 4) == 0,
	   "internal_url default");
	ok(gl_conf.http_timeout_ms > 0 && gl_conf.db_timeout_ms > 0 && gl_conf.redis_timeout_ms > 0,
	   "timeouts default to positive values");

	/* an empty variable is the default too */
	setenv("GALLEY_CACHE_TTL", "", 1);
	ok(gl_conf_load("menu") == 0 && gl_conf.cache_ttl == 300, "empty GALLEY_CACHE_TTL -> 300");
	clear_env();
}

static void
test_conf_values(void)
{
	static const struct {
		const char *var, *value;
		int want;
	} cases[] = {
		{ "GALLEY_CACHE_TTL", "0", -1 },
		{ "GALLEY_CACHE_TTL", "-5", -1 },
		{ "GALLEY_CACHE_TTL", "86401", -1 },
		{ "GALLEY_CACHE_TTL", "12x", -1 },
		{ "GALLEY_CACHE_TTL", "x", -1 },
		{ "GALLEY_CACHE_TTL", "1.5", -1 },
		{ "GALLEY_CACHE_TTL", "99999999999999999999999", -1 },
		{ "GALLEY_CACHE_TTL", "1", 0 },
		{ "GALLEY_CACHE_TTL", "60", 0 },
		{ "GALLEY_CACHE_TTL", "86400", 0 },
		{ "GALLEY_HTTP_TIMEOUT_MS", "0", -1 },
		{ "GALLEY_HTTP_TIMEOUT_MS", "2500", 0 },
		{ "GALLEY_DB_TIMEOUT_MS", "60001", -1 },
		{ "GALLEY_REDIS_TIMEOUT_MS", "9", -1 },
		{ "GALLEY_REDIS_TIMEOUT_MS", "10", 0 },
		{ "GALLEY_LOG_LEVEL", "debug", 0 },
		{ "GALLEY_LOG_LEVEL", "info", 0 },
		{ "GALLEY_LOG_LEVEL", "warn", 0 },
		{ "GALLEY_LOG_LEVEL", "error", 0 },
		{ "GALLEY_LOG_LEVEL", "verbose", -1 },
		{ "GALLEY_LOG_LEVEL", "INFO", -1 },
		{ "GALLEY_LOG_LEVEL", "info ", -1 },
		{ "GALLEY_LOG_LEVEL", "warning", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		clear_env();
		setenv(cases[i].var, cases[i].value, 1);
		fflush(stdout);
		ok(gl_conf_load("menu") == cases[i].want, "%s='%s' -> %d", cases[i].var,
		   cases[i].value, cases[i].want);
	}

	clear_env();
	setenv("GALLEY_CACHE_TTL", "42", 1);
	setenv("GALLEY_LOG_LEVEL", "warn", 1);
	setenv("GALLEY_MONGO_URI", "mongodb://db.example:27017", 1);
	ok(gl_conf_load("menu") == 0, "valid values load");
	ok(gl_conf.cache_ttl == 42, "cache_ttl 42 (got %ld)", gl_conf.cache_ttl);
	is_str(gl_conf.log_level, "warn", "log_level warn");
	is_str(gl_conf.mongo_uri, "mongodb://db.example:27017", "mongo_uri from the environment");

	/* over-long strings are refused */
	char *big = malloc(1100);
	memset(big, 'a', 1099);
	big[1099] = '\0';
	clear_env();
	setenv("GALLEY_MONGO_URI", big, 1);
	ok(gl_conf_load("menu") == -1, "1099-byte GALLEY_MONGO_URI refused");
	free(big);
	clear_env();
}

int
main(void)
{
	test_key();
	test_key_bounds();
	test_conf_defaults();
	test_conf_values();
	return done_testing();
}
