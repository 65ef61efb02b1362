/* The local UI's login: one administrator whose argon2id password hash is in the state
 * database (set with `iothsm-agent set-password`, reading stdin). Sessions live in memory
 * (a restart logs everyone out), identified by a random token in an HttpOnly, Secure,
 * SameSite=Strict cookie; unsafe methods need the CSRF token (double submit, lib/auth) in the
 * X-CSRF-Token header. Password checks run on a thread, never on the event loop. */
#ifndef AGENT_WEBAUTH_H
#define AGENT_WEBAUTH_H

#include <stdbool.h>

#include "httpd/httpd.h"
#include "state/state.h"

typedef struct webauth webauth;

webauth *webauth_new(agent_state *st, unsigned idle_minutes);
void webauth_free(webauth *w);

/* Handles POST /api/login, POST /api/logout, GET /api/session, POST /api/password.
 * Returns true when req was one of them (resp filled or deferred). */
bool webauth_handle(webauth *w, const httpd_request *req, httpd_response *resp);
/* true when req carries a live session and, for unsafe methods, the right CSRF header;
 * otherwise fills resp with 401 or 403 and returns false. */
bool webauth_check(webauth *w, const httpd_request *req, httpd_response *resp);

/* `iothsm-agent set-password`: reads the new password from stdin (asked twice without echo
 * on a terminal), stores its hash. Returns the process exit code. */
int webauth_set_password_cli(agent_state *st);

#endif
