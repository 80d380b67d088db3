bin_PROGRAMS += sql/galley-sql
sql_galley_sql_SOURCES = sql/apply.c
sql_galley_sql_LDADD = $(MONGOC_LIBS)
EXTRA_DIST += sql/auth sql/customers sql/kitchen sql/menu sql/orders sql/stock sql/suppliers
