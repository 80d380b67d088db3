bin_PROGRAMS += fcgi/stock/galley-stock
fcgi_stock_galley_stock_SOURCES = fcgi/stock/main.c fcgi/stock/stock.h fcgi/stock/levels.c \
	fcgi/stock/reservations.c fcgi/stock/project.c fcgi/stock/events.c
fcgi_stock_galley_stock_LDADD = $(GL_LIBS)
