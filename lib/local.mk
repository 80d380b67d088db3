noinst_LIBRARIES += lib/libgalley.a
lib_libgalley_a_SOURCES = \
	lib/admit.c lib/admit.h \
	lib/app.c lib/app.h \
	lib/board.c lib/board.h \
	lib/breaker.c lib/breaker.h \
	lib/cache.c lib/cache.h \
	lib/conf.c lib/conf.h \
	lib/consumer.c lib/consumer.h \
	lib/crud.c lib/crud.h \
	lib/db.c lib/db.h \
	lib/dispatch.c lib/dispatch.h \
	lib/doc.c lib/doc.h \
	lib/err.c lib/err.h \
	lib/etag.c lib/etag.h \
	lib/http.c lib/http.h \
	lib/idem.c lib/idem.h lib/events.c lib/events.h lib/due.c lib/due.h \
	lib/json.c lib/json.h \
	lib/kept.c lib/kept.h lib/kept_list.c \
	lib/lines.c lib/lines.h \
	lib/log.c lib/log.h \
	lib/metrics.c lib/metrics_text.c lib/metrics.h \
	lib/near.c lib/near.h \
	lib/now.c lib/now.h \
	lib/page.h \
	lib/redis.c lib/redis.h \
	lib/sentinel.c lib/sentinel.h \
	lib/req.c lib/req.h \
	lib/route.c lib/route.h \
	lib/stop.c lib/stop.h \
	lib/tick.c lib/tick.h \
	lib/trace.c lib/trace.h \
	lib/valid.c lib/valid.h
