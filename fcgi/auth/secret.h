/*
 * Secrets of the auth service: sign-in tokens and password hashes (libsodium).
 *
 * A token is 256 random bits, given to the client once as 64 hex digits;
 * the server keeps only its BLAKE2b-256 hash, so a copy of the session
 * store signs no one in.  Passwords are Argon2id hashes at libsodium's
 * interactive limits (about 78 ms and 66 MiB each here); every worker is
 * single-threaded, so at most one hash runs per process and a pool of M
 * workers needs at most M x 66 MiB however hard a login storm pushes.
 */
#ifndef SECRET_H
#define SECRET_H

#include <sodium.h>
#include <stdbool.h>

#define SECRET_TOKEN_HEX 65 /* 64 hex digits and a NUL */
#define SECRET_HASH_MAX  crypto_pwhash_STRBYTES

/* A new token (to give out) and its hash (to keep); -1 if randomness failed. */
int secret_token_new(char token[SECRET_TOKEN_HEX], char hash[SECRET_TOKEN_HEX]);

/* The hash of a token a client sent; false when it is not 64 hex digits. */
bool secret_token_hash(const char *token, char hash[SECRET_TOKEN_HEX]);

/*
 * The name nginx gives a token's cached auth answer (nginx's public.conf,
 * /.galley/auth): HMAC-SHA256 keyed "galley-auth-cache", lowercase hex, as
 * set-misc's set_hmac_sha256 + set_encode_hex compute it.  The auth service
 * needs it to purge that entry (logout, a role change).  False when token
 * is not 64 hex digits.
 */
bool secret_token_edge_key(const char *token, char key[SECRET_TOKEN_HEX]);

/* Argon2id hash of password into out; -1 when out of memory. */
int secret_password_hash(const char *password, char out[SECRET_HASH_MAX]);

/* Does password match hash?  Constant time in the password. */
bool secret_password_verify(const char *hash, const char *password);

/*
 * Spend the same work as a real check, for an email that has no user,
 * so a wrong email and a wrong password cost the same time.
 */
void secret_password_burn(const char *password);

#endif
