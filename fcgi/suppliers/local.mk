bin_PROGRAMS += fcgi/suppliers/galley-suppliers
fcgi_suppliers_galley_suppliers_SOURCES = fcgi/suppliers/main.c fcgi/suppliers/suppliers.c fcgi/suppliers/suppliers.h
fcgi_suppliers_galley_suppliers_LDADD = $(GL_LIBS)
