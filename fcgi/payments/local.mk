bin_PROGRAMS += fcgi/payments/galley-payments
fcgi_payments_galley_payments_SOURCES = fcgi/payments/main.c fcgi/payments/payments.h \
	fcgi/payments/pay.c fcgi/payments/payments.c fcgi/payments/provider.h \
	fcgi/payments/provider.c
fcgi_payments_galley_payments_LDADD = $(GL_LIBS)
