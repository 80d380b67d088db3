# galley-pool: the pool manager (fcgi/pool/pool.h), not a service: bin/galley starts one per pool.
bin_PROGRAMS += fcgi/pool/galley-pool
fcgi_pool_galley_pool_SOURCES = fcgi/pool/pool.c fcgi/pool/status.c fcgi/pool/queue.c fcgi/pool/pool.h
fcgi_pool_galley_pool_LDADD = lib/libgalley.a $(JANSSON_LIBS)
