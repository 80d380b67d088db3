/* Unit tests of fcgi/auth/secret.c: tokens and password hashes. */
#include <string.h>

#include "../tap.h"
#include "secret.h"

static int
all_hex(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int
main(void)
{
	char t1[SECRET_TOKEN_HEX], h1[SECRET_TOKEN_HEX], t2[SECRET_TOKEN_HEX], h2[SECRET_TOKEN_HEX];
	char again[SECRET_TOKEN_HEX], pw[SECRET_HASH_MAX];
	char bad[80];

	ok(sodium_init() >= 0, "libsodium starts");

	ok(secret_token_new(t1, h1) == 0 && secret_token_new(t2, h2) == 0, "two tokens are made");
	ok(all_hex(t1) && all_hex(h1), "a token and its hash are 64 lower-case hex digits");
	ok(strcmp(t1, t2) != 0, "two tokens differ");
	ok(strcmp(t1, h1) != 0, "the kept hash is not the token");
	ok(secret_token_hash(t1, again) && strcmp(again, h1) == 0,
	   "hashing the token the client sends back gives the kept hash");
	ok(secret_token_hash(t2, again) && strcmp(again, h1) != 0, "another token, another hash");

	memcpy(bad, t1, 63);
	bad[63] = '\0';
	ok(!secret_token_hash(bad, again), "63 digits are not a token");
	memcpy(bad, t1, 64);
	bad[64] = 'a';
	bad[65] = '\0';
	ok(!secret_token_hash(bad, again), "65 digits are not a token");
	memcpy(bad, t1, 65);
	bad[10] = 'G';
	ok(!secret_token_hash(bad, again), "a non-hex digit is not a token");
	memcpy(bad, t1, 65);
	bad[0] = 'A';
	bad[0] = (t1[0] >= 'a') ? (char)(t1[0] - 32) : 'A';
	ok(!secret_token_hash(bad, again), "upper-case hex is not a token");
	ok(!secret_token_hash(NULL, again), "no header is no token");
	ok(!secret_token_hash("", again), "an empty header is no token");

	ok(secret_password_hash("correct horse", pw) == 0, "a password is hashed");
	ok(strncmp(pw, "$argon2id$", 10) == 0, "with Argon2id (%.30s)", pw);
	ok(strstr(pw, "correct horse") == NULL, "the hash does not hold the password");
	ok(secret_password_verify(pw, "correct horse"), "the right password verifies");
	ok(!secret_password_verify(pw, "correct horsf"), "a wrong password does not");
	ok(!secret_password_verify(pw, ""), "an empty password does not");
	ok(!secret_password_verify("not a hash", "correct horse"),
	   "a broken hash verifies nothing");
	char pw2[SECRET_HASH_MAX];
	ok(secret_password_hash("correct horse", pw2) == 0 && strcmp(pw, pw2) != 0,
	   "the same password hashes differently twice (salted)");
	/* Burning a check for an unknown email must leave real checks working. */
	secret_password_burn("anything");
	secret_password_burn("correct horse");
	ok(secret_password_verify(pw, "correct horse") && !secret_password_verify(pw, "anything"),
	   "after burning, real checks still tell right from wrong");
	return done_testing();
}
