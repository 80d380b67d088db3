bin_PROGRAMS += fcgi/orders/galley-orders
fcgi_orders_galley_orders_SOURCES = fcgi/orders/main.c fcgi/orders/orders.h fcgi/orders/place.c \
	fcgi/orders/orders.c fcgi/orders/list.c fcgi/orders/live.c fcgi/orders/by_user.c
fcgi_orders_galley_orders_LDADD = $(GL_LIBS)
