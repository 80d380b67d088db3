#include <string.h>

#include "secret.h"

static void
token_digest(const unsigned char *raw, size_t len, char hash[SECRET_TOKEN_HEX])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), raw, len, NULL, 0);
	sodium_bin2hex(hash, SECRET_TOKEN_HEX, h, sizeof(h));
}

/* What secret_token_new gives out: 64 lowercase hex digits. */
static bool
token_well_formed(const char *token)
{
	return token != NULL && strlen(token) == 64 && strspn(token, "0123456789abcdef") == 64;
}

int
secret_token_new(char token[SECRET_TOKEN_HEX], char hash[SECRET_TOKEN_HEX])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(token, SECRET_TOKEN_HEX, raw, sizeof(raw));
	/* Hash the text the client will send back, so checking needs no decoding. */
	token_digest((const unsigned char *)token, 64, hash);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

bool
secret_token_hash(const char *token, char hash[SECRET_TOKEN_HEX])
{
	if (!token_well_formed(token))
		return false;
	token_digest((const unsigned char *)token, 64, hash);
	return true;
}

bool
secret_token_edge_key(const char *token, char key[SECRET_TOKEN_HEX])
{
	static const char name[] = "galley-auth-cache"; /* nginx's public.conf has it too */
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	if (!token_well_formed(token))
		return false;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)name, sizeof(name) - 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, 64);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(key, SECRET_TOKEN_HEX, mac, sizeof(mac));
	return true;
}

int
secret_password_hash(const char *password, char out[SECRET_HASH_MAX])
{
	return crypto_pwhash_str(out, password, strlen(password),
	                         crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                         crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

bool
secret_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void
secret_password_burn(const char *password)
{
	static char dummy[SECRET_HASH_MAX];

	/* Made once per process from a random password no one knows. */
	if (dummy[0] == '\0') {
		char pw[SECRET_TOKEN_HEX], unused[SECRET_TOKEN_HEX];
		secret_token_new(pw, unused);
		if (secret_password_hash(pw, dummy) != 0)
			return;
	}
	(void)secret_password_verify(dummy, password);
}
