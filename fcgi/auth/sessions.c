#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "cache.h"
#include "conf.h"
#include "db.h"
#include "doc.h"
#include "http.h"
#include "log.h"
#include "secret.h"

const struct gl_field login_fields[] = {
	{ "email", GL_T_STRING, GL_REQUIRED, 1, 254, .max_bytes = 254 },
	{ "password", GL_T_STRING, GL_REQUIRED, 1, 128 },
	{ 0 },
};

static void
session_key(char *buf, size_t size, const char *hash)
{
	if (gl_cache_key(buf, size, "session", hash) < 0)
		buf[0] = '\0';
}

/* The failed-login counter of an email: keyed by a hash, so no address sits in Redis. */
static void
fail_key(char *buf, size_t size, const char *email)
{
	unsigned char h[16];
	char hex[33];

	crypto_generichash(h, sizeof(h), (const unsigned char *)email, strlen(email), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	if (gl_cache_key(buf, size, "loginfail", hex) < 0)
		buf[0] = '\0';
}

/* The <token> of "Bearer <token>" (borrowed from the request), or NULL. */
static const char *
bearer_token(const struct gl_req *req)
{
	const char *h = gl_req_param(req, "HTTP_AUTHORIZATION");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* The request's bearer token, hashed; false when there is none. */
static bool
bearer_hash(const struct gl_req *req, char hash[SECRET_TOKEN_HEX])
{
	return secret_token_hash(bearer_token(req), hash);
}

/*
 * Make nginx forget its cached "yes" for a token (nginx's public.conf: the
 * auth check is cached for 1 s under this key).  Called before logout or a
 * role change answers, so the next request is checked afresh, by every nginx
 * (gl_http_peers: with several replicas each has its own cache).  If one
 * cannot be asked, its entry still dies within a second: say so in the log.
 */
static void
edge_forget(const char *rid, const char *edge_key)
{
	char path[128], peers[GL_HTTP_PEERS_MAX][GL_HTTP_URL_MAX];
	int n;

	if (edge_key == NULL || strlen(edge_key) != 64 ||
	    snprintf(path, sizeof(path), "/.galley/auth-purge/%s", edge_key) >= (int)sizeof(path))
		return;
	if ((n = gl_http_peers(peers, GL_HTTP_PEERS_MAX)) == 0)
		gl_log(GL_LOG_WARN, rid,
		       "no nginx found to purge its cached auth answer (GALLEY_NGINX_PEERS): it "
		       "expires within 1 s");
	for (int i = 0; i < n; i++) {
		char *text = NULL;
		long status = 0;
		if (gl_http_get_text_at(peers[i], path, &status, &text) != GL_OK ||
		    (status != 200 && status != 404))
			gl_log(GL_LOG_WARN, rid,
			       "nginx %s's cached auth answer could not be purged (status %ld): it "
			       "expires within 1 s",
			       peers[i], status);
		free(text);
	}
}

/*
 * The user whose email and password the body holds: GL_OK with *user (new),
 * else the answer (401 for a wrong pair, 429 after too many of them; failures
 * are counted per email).
 */
static enum gl_err
login_user(struct gl_req *req, json_t **user)
{
	const char *password = json_string_value(json_object_get(req->body, "password"));
	char *email, *seen = NULL, fkey[GL_CACHE_KEY_MAX];
	bson_t filter = BSON_INITIALIZER;
	long long fails = 0;
	const char *stored;
	enum gl_err err;
	bool ok;

	*user = NULL;
	/* As long as the address is: a fixed buffer cut it (issue 15). */
	if ((email = gl_valid_lower_dup(json_string_value(json_object_get(req->body, "email")))) ==
	    NULL)
		return GL_E_INTERNAL;
	fail_key(fkey, sizeof(fkey), email);
	if (gl_cache_peek(fkey, &seen) == 1)
		fails = atoll(seen);
	free(seen);
	if (fails >= AUTH_FAIL_MAX) {
		free(email);
		return gl_fail(req, GL_E_RATE_LIMITED, NULL,
		               "too many failed sign-ins for this email: try again in 15 minutes");
	}
	BSON_APPEND_UTF8(&filter, "email", email);
	err = gl_db_find_one("users", &filter, user);
	bson_destroy(&filter);
	free(email);
	if (err != GL_OK && err != GL_E_NOT_FOUND)
		return err;
	stored = json_string_value(json_object_get(*user, "password_hash"));
	if (stored != NULL) {
		ok = secret_password_verify(stored, password);
	} else {
		secret_password_burn(password); /* an unknown email costs the same */
		ok = false;
	}
	if (!ok) {
		json_decref(*user);
		*user = NULL;
		/* Counted in Redis; with Redis away nginx's per-address limit still holds. */
		(void)gl_cache_count(fkey, AUTH_FAIL_WINDOW, &fails);
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL,
		               "the email or the password is wrong");
	}
	const char *keys[] = { fkey };
	(void)gl_cache_del(keys, 1);
	return GL_OK;
}

/* Store a new session of user: token gets its secret (the client's alone: only its hash is
 * stored), expires when it ends (RFC 3339). */
static enum gl_err
session_new(const json_t *user, char token[SECRET_TOKEN_HEX], char *expires, size_t size)
{
	char hash[SECRET_TOKEN_HEX], edge[SECRET_TOKEN_HEX];
	int64_t exp = (int64_t)time(NULL) + gl_conf.token_ttl;
	bson_t doc = BSON_INITIALIZER;
	bson_oid_t uid;
	enum gl_err err;

	secret_token_new(token, hash);
	gl_doc_time(expires, size, exp * 1000);
	gl_oid_parse(json_string_value(json_object_get(user, "id")), &uid);
	BSON_APPEND_UTF8(&doc, "_id", hash);
	BSON_APPEND_OID(&doc, "user_id", &uid);
	BSON_APPEND_UTF8(&doc, "role", json_string_value(json_object_get(user, "role")));
	BSON_APPEND_INT64(&doc, "expires", exp);
	BSON_APPEND_DATE_TIME(&doc, "expires_at", exp * 1000);
	/* What a role change needs to purge nginx's cached answer (it never sees the token). */
	if (secret_token_edge_key(token, edge))
		BSON_APPEND_UTF8(&doc, "edge_key", edge);
	err = gl_db_insert("sessions", &doc);
	bson_destroy(&doc);
	return err;
}

enum gl_err
session_login(struct gl_req *req)
{
	char token[SECRET_TOKEN_HEX], expires[32];
	json_t *user, *pub, *out;
	enum gl_err err;

	admin_ensure();
	if ((err = login_user(req, &user)) != GL_OK)
		return err;
	if ((err = session_new(user, token, expires, sizeof(expires))) != GL_OK) {
		sodium_memzero(token, sizeof(token));
		json_decref(user);
		return err;
	}
	pub = user_public_new(user);
	if (pub != NULL)
		(void)user_link_customer(req, pub, NULL); /* if registering could not */
	out = json_pack("{s:s, s:s, s:o*}", "token", token, "expires_at", expires, "user", pub);
	sodium_memzero(token, sizeof(token));
	json_decref(user);
	return out != NULL ? gl_reply(req, 200, out) : GL_E_INTERNAL;
}

/* The cached form of a session: "<user id> <role> <expires epoch>". */
static bool
session_parse(const char *s, char uid[25], char role[16], long long *exp)
{
	return sscanf(s, "%24s %15s %lld", uid, role, exp) == 3 && strlen(uid) == 24;
}

enum gl_err
session_check(struct gl_req *req)
{
	char hash[SECRET_TOKEN_HEX], key[GL_CACHE_KEY_MAX], uid[25], role[16], val[64];
	bson_t filter = BSON_INITIALIZER;
	long long exp = 0, now = (long long)time(NULL);
	json_t *sess;
	enum gl_err err;
	char *cached = NULL;

	/* nginx's auth_request takes 2xx, 401 or 403 only: every path below ends in one. */
	if (!bearer_hash(req, hash))
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL, "no valid bearer token");
	session_key(key, sizeof(key), hash);
	if (gl_cache_peek(key, &cached) == 1 && session_parse(cached, uid, role, &exp) &&
	    exp > now) {
		free(cached);
		goto signed_in;
	}
	free(cached);
	BSON_APPEND_UTF8(&filter, "_id", hash);
	err = gl_db_find_one("sessions", &filter, &sess);
	bson_destroy(&filter);
	if (err == GL_E_NOT_FOUND)
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL, "unknown or signed-out token");
	if (err != GL_OK) {
		gl_req_header(req, "X-Auth-Error", "unavailable");
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL, "the session store is unavailable");
	}
	snprintf(uid, sizeof(uid), "%s", json_string_value(json_object_get(sess, "user_id")));
	snprintf(role, sizeof(role), "%s", json_string_value(json_object_get(sess, "role")));
	exp = json_integer_value(json_object_get(sess, "expires"));
	json_decref(sess);
	if (exp <= now)
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL, "the token has expired");
	snprintf(val, sizeof(val), "%s %s %lld", uid, role, exp);
	(void)gl_cache_put(key, val,
	                   exp - now < AUTH_SESSION_CACHE ? (long)(exp - now) : AUTH_SESSION_CACHE);
signed_in:
	gl_req_header(req, "X-User-Id", uid);
	gl_req_header(req, "X-User-Role", role);
	return gl_reply(req, 204, NULL);
}

enum gl_err
session_logout(struct gl_req *req)
{
	char hash[SECRET_TOKEN_HEX], edge[SECRET_TOKEN_HEX], key[GL_CACHE_KEY_MAX];
	bson_t filter = BSON_INITIALIZER;
	enum gl_err err;

	if (!bearer_hash(req, hash) || !secret_token_edge_key(bearer_token(req), edge))
		return gl_fail(req, GL_E_UNAUTHENTICATED, NULL, "no valid bearer token");
	BSON_APPEND_UTF8(&filter, "_id", hash);
	err = gl_db_delete_where("sessions", &filter, NULL);
	bson_destroy(&filter);
	if (err != GL_OK)
		return err;
	/* The durable record is gone; now the cached copy, before we answer. */
	session_key(key, sizeof(key), hash);
	const char *keys[] = { key };
	if (gl_cache_del(keys, 1) < 0)
		gl_log(GL_LOG_WARN, req->request_id,
		       "logout: the cached session could not be dropped");
	edge_forget(req->request_id, edge);
	return gl_reply(req, 204, NULL);
}

enum gl_err
session_set_role(const char *user_id, const char *role)
{
	bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set;
	char key[GL_CACHE_KEY_MAX];
	bson_oid_t oid;
	json_t *list, *s;
	enum gl_err err;
	size_t i;

	if (!gl_oid_parse(user_id, &oid))
		return GL_E_INTERNAL;
	BSON_APPEND_OID(&filter, "user_id", &oid);
	BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
	BSON_APPEND_UTF8(&set, "role", role);
	bson_append_document_end(&update, &set);
	err = gl_db_update_where("sessions", &filter, &update);
	if (err == GL_OK)
		err = gl_db_find_all("sessions", &filter, 1000, &list);
	bson_destroy(&filter);
	bson_destroy(&update);
	if (err != GL_OK)
		return err;
	json_array_foreach(list, i, s) {
		session_key(key, sizeof(key), json_string_value(json_object_get(s, "id")));
		const char *keys[] = { key };
		(void)gl_cache_del(keys, 1);
		edge_forget(NULL, json_string_value(json_object_get(s, "edge_key")));
	}
	json_decref(list);
	return GL_OK;
}
