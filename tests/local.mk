# Unit tests: one TAP program per lib/ file (tests/unit/lib/<file>.c).  Those of idem, due, kept
# and metrics start a Redis of their own (tests/unit/redis_server.h); those of dispatch, req
# and idem build requests in memory as the fuzzers do (tests/unit/fake.h, tests/fuzz/fuzz.c).
GL_UNIT_TESTS = \
	tests/unit/lib/admit \
	tests/unit/lib/route \
	tests/unit/lib/valid \
	tests/unit/lib/doc \
	tests/unit/lib/json \
	tests/unit/lib/err \
	tests/unit/lib/etag \
	tests/unit/lib/cache \
	tests/unit/lib/breaker \
	tests/unit/lib/http \
	tests/unit/lib/sentinel \
	tests/unit/lib/log \
	tests/unit/lib/trace \
	tests/unit/lib/board \
	tests/unit/lib/consumer \
	tests/unit/lib/lines \
	tests/unit/lib/dispatch \
	tests/unit/lib/req \
	tests/unit/lib/metrics \
	tests/unit/lib/idem \
	tests/unit/lib/due \
	tests/unit/lib/kept
check_PROGRAMS += $(GL_UNIT_TESTS) tests/unit/auth/secret
TESTS += tests/unit/auth/secret tests/unit/format.sh
# galley-pool on its own (fcgi/pool/): its refusals, its sockets, its status, its workers' lives.
TESTS += tests/unit/pool.sh
EXTRA_DIST += tests/unit/pool.sh
# docker/'s deployment files against the project (python3-yaml; nginx -t; the pools' probe),
# with what bin/galley renders for them (bin/galley.d/).
TESTS += tests/unit/deploy.py
EXTRA_DIST += tests/unit/deploy.py docker bin
# The test runner (bin/galley test) and what tests/e2e/lib.sh and tests/bench/lib.sh share.
EXTRA_DIST += tests/run.sh tests/common.sh
# docker/prometheus/: the config and alerting rules load, the rules' unit tests pass (promtool).
TESTS += tests/unit/alerts.sh
EXTRA_DIST += tests/unit/alerts.sh
tests_unit_auth_secret_SOURCES = tests/unit/auth/secret.c fcgi/auth/secret.c
tests_unit_auth_secret_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi/auth
TESTS += $(GL_UNIT_TESTS)
tests_unit_lib_dispatch_SOURCES = tests/unit/lib/dispatch.c tests/fuzz/fuzz.c
tests_unit_lib_req_SOURCES = tests/unit/lib/req.c tests/fuzz/fuzz.c
tests_unit_lib_idem_SOURCES = tests/unit/lib/idem.c tests/fuzz/fuzz.c
# The one link of every test program (the programs in bin/ have their own LDADD); -lpthread
# for the tests that start threads of their own (board's, sentinel's).
LDADD = $(GL_LIBS) -lpthread
EXTRA_DIST += tests/unit/tap.h tests/unit/capture.h tests/unit/fake.h tests/unit/redis_server.h \
	tests/fuzz/fuzz.h tests/unit/format.sh .clang-format tests/e2e tests/bench

# The payment provider's request shapes, run by tests/e2e/80-payments.sh against stripe-mock
# (built here, not run by make check: it needs that server).
check_PROGRAMS += tests/unit/payments/provider
tests_unit_payments_provider_SOURCES = tests/unit/payments/provider.c fcgi/payments/provider.c
tests_unit_payments_provider_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi/payments

# Every service's route table against its limits: the largest valid body fits the
# route's cap, the longest valid query the query limit (the services' own tables: their
# main.c files are compiled into the test, so it links their handlers too).
check_PROGRAMS += tests/unit/fcgi/routes
TESTS += tests/unit/fcgi/routes
tests_unit_fcgi_routes_SOURCES = tests/unit/fcgi/routes.c \
	fcgi/auth/users.c fcgi/auth/sessions.c fcgi/auth/secret.c \
	fcgi/customers/customers.c \
	fcgi/kitchen/tickets.c fcgi/kitchen/move.c fcgi/kitchen/queue.c \
	fcgi/kitchen/cook.c fcgi/kitchen/staff.c fcgi/kitchen/events.c \
	fcgi/menu/items.c \
	fcgi/orders/place.c fcgi/orders/orders.c fcgi/orders/list.c fcgi/orders/live.c fcgi/orders/by_user.c \
	fcgi/payments/pay.c fcgi/payments/payments.c fcgi/payments/provider.c \
	fcgi/reports/counters.c fcgi/reports/summary.c \
	fcgi/stock/levels.c fcgi/stock/reservations.c fcgi/stock/project.c fcgi/stock/events.c \
	fcgi/suppliers/suppliers.c
tests_unit_fcgi_routes_CPPFLAGS = $(AM_CPPFLAGS)
