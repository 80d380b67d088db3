/*
 * The Idempotency-Key parser (lib/idem.h: gl_idem_key_ok) and what a key
 * becomes: a record id "<scope>:<user>:<key>" and, with the body, a
 * fingerprint that must not depend on how the client ordered its keys.
 *
 * Input: line 1 the Idempotency-Key header's value (as nginx passes it:
 * NUL-terminated), the rest a request body (seeds in tests/data/fuzz/idem/).
 *
 * Invariants: no crash, leak or undefined behaviour; a key is accepted
 * exactly when it is 1..64 printable ASCII characters without space; an
 * accepted key always fits the record id whole; the body's fingerprint text
 * (sorted, compact) is the same after a round trip through it.
 */
#include <string.h>

#include "fuzz.h"
#include "idem.h"
#include "json.h"

static bool
key_ok_spec(const char *key)
{
	size_t n = strlen(key);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] <= ' ' || key[i] > '~')
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *key = fuzz_line(&data, &size);
	struct gl_idem idem;
	json_t *body, *again;
	char msg[200], *canon, *canon2;

	FUZZ_CHECK(gl_idem_key_ok(key) == key_ok_spec(key));
	if (gl_idem_key_ok(key)) {
		/* As gl_idem_begin() makes it: the longest scope in use, a user id. */
		int n = snprintf(idem.id, sizeof(idem.id), "%s:%s:%s", "reservations",
		                 "5eed00000000000000000001", key);
		FUZZ_CHECK(n > 0 && (size_t)n < sizeof(idem.id));
	}
	free(key);

	if (gl_json_parse_object((const char *)data, size, &body, msg, sizeof(msg)) != GL_OK)
		return 0;
	canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_CHECK(canon != NULL);
	again = json_loads(canon, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(again != NULL && json_equal(again, body));
	canon2 = json_dumps(again, JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_CHECK(canon2 != NULL && strcmp(canon, canon2) == 0);
	free(canon2);
	free(canon);
	json_decref(again);
	json_decref(body);
	return 0;
}
