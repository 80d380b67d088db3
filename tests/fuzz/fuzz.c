/* What the harnesses share (fuzz.h): set-up, input splitting, the in-memory FastCGI request. */
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"

void
fuzz_setup(void)
{
	gl_conf.service = "fuzz";
	gl_conf.log_level = "error";
	gl_conf.internal_url = "http://127.0.0.1:8081";
	gl_log_init();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup();
	return 0;
}

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

char *
fuzz_line(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = *size > 0 ? memchr(*data, '\n', *size) : NULL;
	size_t n = nl != NULL ? (size_t)(nl - *data) : *size;
	char *line = fuzz_strndup(*data, n);

	*data += nl != NULL ? n + 1 : n;
	*size -= nl != NULL ? n + 1 : n;
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

/* The input stream's buffer is the whole body: when it runs out, the stream has ended. */
static void
fuzz_fill(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The output stream grows: move wrNext and stop to a bigger buffer. */
static void
fuzz_empty(FCGX_Stream *s, int do_close)
{
	struct fuzz_fcgi *f = s->data;
	size_t used = (size_t)(s->wrNext - f->outbuf);
	size_t cap = f->out_cap * 2;
	unsigned char *b = realloc(f->outbuf, cap);

	(void)do_close;
	FUZZ_CHECK(b != NULL);
	f->outbuf = b;
	f->out_cap = cap;
	s->wrNext = b + used;
	s->stop = b + cap;
}

void
fuzz_fcgi_init(struct fuzz_fcgi *f)
{
	memset(f, 0, sizeof(*f));
	f->out_cap = 1024;
	f->outbuf = malloc(f->out_cap);
	FUZZ_CHECK(f->outbuf != NULL);

	f->in.isReader = 1;
	f->in.fillBuffProc = fuzz_fill;
	f->in.data = f;
	fuzz_fcgi_body(f, NULL, 0);

	f->out.wrNext = f->out.stopUnget = f->outbuf;
	f->out.stop = f->outbuf + f->out_cap;
	f->out.emptyBuffProc = fuzz_empty;
	f->out.data = f;

	f->req.in = &f->in;
	f->req.out = &f->out;
	f->req.err = NULL;
	f->req.envp = f->envp;
	f->req.ipcFd = -1;
}

void
fuzz_fcgi_param(struct fuzz_fcgi *f, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);
	char *p;

	if (f->nparams == FUZZ_PARAMS_MAX)
		return;
	p = malloc(n + v + 2);
	FUZZ_CHECK(p != NULL);
	memcpy(p, name, n);
	p[n] = '=';
	memcpy(p + n + 1, value, v + 1);
	f->envp[f->nparams++] = p;
	f->envp[f->nparams] = NULL;
}

void
fuzz_fcgi_body(struct fuzz_fcgi *f, const uint8_t *data, size_t size)
{
	free(f->body);
	/* At least one byte, so an empty body is a real (empty) buffer, not NULL. */
	f->body = malloc(size > 0 ? size : 1);
	FUZZ_CHECK(f->body != NULL);
	if (size > 0)
		memcpy(f->body, data, size);
	f->body_len = size;
	f->in.rdNext = f->in.stopUnget = f->body;
	f->in.stop = f->body + size;
	f->in.isClosed = 0;
}

const unsigned char *
fuzz_fcgi_output(const struct fuzz_fcgi *f, size_t *len)
{
	*len = (size_t)(f->out.wrNext - f->outbuf);
	return f->outbuf;
}

void
fuzz_fcgi_free(struct fuzz_fcgi *f)
{
	for (int i = 0; i < f->nparams; i++)
		free(f->envp[i]);
	free(f->body);
	free(f->outbuf);
	memset(f, 0, sizeof(*f));
}
