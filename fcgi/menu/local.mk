bin_PROGRAMS += fcgi/menu/galley-menu
fcgi_menu_galley_menu_SOURCES = fcgi/menu/main.c fcgi/menu/items.c fcgi/menu/items.h
fcgi_menu_galley_menu_LDADD = $(GL_LIBS)
