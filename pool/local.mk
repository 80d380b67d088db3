# galley-pool: the pool manager (pool/pool.h), not a service: bin/galley starts one per pool.
bin_PROGRAMS += pool/galley-pool
pool_galley_pool_SOURCES = pool/pool.c pool/status.c pool/queue.c pool/pool.h
pool_galley_pool_LDADD = lib/libgalley.a $(JANSSON_LIBS)
