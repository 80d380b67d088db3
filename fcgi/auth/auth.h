/* The auth service: users, sessions, and the check nginx asks before every API call. */
#ifndef AUTH_H
#define AUTH_H

#include "req.h"
#include "valid.h"

#define AUTH_FAIL_MAX      5   /* failed logins for one email ...  */
#define AUTH_FAIL_WINDOW   900 /* ... within this many seconds: 429 */
#define AUTH_SESSION_CACHE 300 /* seconds a session stays in Redis at most */

extern const struct gl_field register_fields[];
extern const struct gl_field login_fields[];
extern const struct gl_field role_fields[];

/* users.c */
enum gl_err user_register(struct gl_req *req);
enum gl_err user_me(struct gl_req *req);
enum gl_err user_list(struct gl_req *req);
enum gl_err user_set_role(struct gl_req *req);
/* The user as the API shows it (no password hash): new, or NULL. */
json_t *user_public_new(const json_t *doc);
/* Link a customer user (public JSON, updated in place) to its customer record: the one
 * invitation (may be NULL) names, else one of its own.  Without an invitation it always
 * returns GL_OK (a failed link is tried again at sign-in). */
enum gl_err user_link_customer(struct gl_req *req, json_t *user, const char *invitation);
/* Create the first admin from GALLEY_ADMIN_* if there is no admin yet. */
void admin_ensure(void);

/* sessions.c */
enum gl_err session_login(struct gl_req *req);
enum gl_err session_logout(struct gl_req *req);
enum gl_err session_check(struct gl_req *req);
/* Give every session of user_id the role (after a role change). */
enum gl_err session_set_role(const char *user_id, const char *role);

int auth_init(void);

#endif
