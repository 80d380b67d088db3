bin_PROGRAMS += fcgi/customers/galley-customers
fcgi_customers_galley_customers_SOURCES = fcgi/customers/main.c fcgi/customers/customers.c \
	fcgi/customers/customers.h
fcgi_customers_galley_customers_LDADD = $(GL_LIBS)
