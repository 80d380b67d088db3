bin_PROGRAMS += fcgi/kitchen/galley-kitchen
fcgi_kitchen_galley_kitchen_SOURCES = fcgi/kitchen/main.c fcgi/kitchen/kitchen.h \
	fcgi/kitchen/tickets.c fcgi/kitchen/move.c fcgi/kitchen/queue.c \
	fcgi/kitchen/cook.c fcgi/kitchen/staff.c fcgi/kitchen/events.c
fcgi_kitchen_galley_kitchen_LDADD = $(GL_LIBS)
