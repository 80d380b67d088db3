bin_PROGRAMS += fcgi/reports/galley-reports
fcgi_reports_galley_reports_SOURCES = fcgi/reports/main.c fcgi/reports/reports.h \
	fcgi/reports/counters.c fcgi/reports/summary.c
fcgi_reports_galley_reports_LDADD = $(GL_LIBS)
