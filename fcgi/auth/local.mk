bin_PROGRAMS += fcgi/auth/galley-auth
fcgi_auth_galley_auth_SOURCES = fcgi/auth/main.c fcgi/auth/auth.h fcgi/auth/users.c \
	fcgi/auth/sessions.c fcgi/auth/secret.c fcgi/auth/secret.h
fcgi_auth_galley_auth_LDADD = $(GL_LIBS)
