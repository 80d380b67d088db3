/*
 * fuzz: what the libFuzzer harnesses in tests/fuzz/ share (README.md, "Fuzzing").
 *
 * Each harness is one file, tests/fuzz/<name>.c, defining
 * LLVMFuzzerTestOneInput(); tests/fuzz/run.sh builds it with clang
 * (-fsanitize=fuzzer,address,undefined) against lib/ built the same way in
 * build-fuzz/, and runs it over its seeds in tests/data/fuzz/<name>/.
 *
 * The request seam: a struct gl_req reads its params, body and response
 * through an FCGX_Request.  fuzz_fcgi_* builds one from memory (params as
 * an environ(7) array, the body as an input stream that ends where the
 * bytes do, the output as a growing buffer), so gl_req_begin(),
 * gl_dispatch() and gl_req_finish() run exactly as they do behind
 * nginx, with no socket and no change to lib/.  Test-only: it knows
 * libfcgi's public stream struct (fcgiapp.h) and nothing else of it.
 * The unit tests of the request layer build their requests with it too
 * (tests/unit/fake.h): fuzz.c has nothing of libFuzzer's but its hook.
 */
#ifndef GL_FUZZ_H
#define GL_FUZZ_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * An invariant of the code under test: on failure, say which and abort (libFuzzer's crash).
 * On stdout: run.sh closes the harness's stderr (-close_fd_mask=2: lib/'s error log lines),
 * libFuzzer's and the sanitizers' reports keep their own copy of it.
 */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__,        \
			       #cond);                                                             \
			fflush(stdout);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Once per process: gl_conf as a service named "fuzz" would have it, logging errors only. */
void fuzz_setup(void);

/* A copy of [data, data + size) with a NUL after it (new: free() it); never NULL. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Split *data at the first '\n': the line (new, NUL-terminated, without the
 * '\n' or a '\r' before it); *data and *size move past it.  At the end of
 * the input the line is what is left.
 */
char *fuzz_line(const uint8_t **data, size_t *size);

#define FUZZ_PARAMS_MAX 32

/* An FCGX_Request made of memory; everything in it is owned by it. */
struct fuzz_fcgi {
	FCGX_Request req;
	FCGX_Stream in, out;
	char *envp[FUZZ_PARAMS_MAX + 1];
	int nparams;
	unsigned char *body; /* the input stream's bytes */
	size_t body_len;
	unsigned char *outbuf; /* what the one writer wrote */
	size_t out_cap;
};

/* Start an empty request: no params, no body. */
void fuzz_fcgi_init(struct fuzz_fcgi *f);
/* Add the param name=value (copied); beyond FUZZ_PARAMS_MAX params it is dropped. */
void fuzz_fcgi_param(struct fuzz_fcgi *f, const char *name, const char *value);
/* The body the input stream gives (copied); call once, before reading. */
void fuzz_fcgi_body(struct fuzz_fcgi *f, const uint8_t *data, size_t size);
/* What was written to the output stream so far (borrowed, not NUL-terminated). */
const unsigned char *fuzz_fcgi_output(const struct fuzz_fcgi *f, size_t *len);
/* Free everything. */
void fuzz_fcgi_free(struct fuzz_fcgi *f);

#endif
