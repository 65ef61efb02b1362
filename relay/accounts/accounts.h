/* Accounts (P-1): the first administrator (command line or one-time set-up link), login and
 * logout with a session cookie, users, API tokens. */
#ifndef RELAY_ACCOUNTS_H
#define RELAY_ACCOUNTS_H

#include <stdio.h>

#include "api/api.h"

/* REST handlers (see relay/api/routes.c and docs/api.md). */
void accounts_setup(api_call *c);        /* POST /api/v1/setup */
void accounts_login(api_call *c);        /* POST /api/v1/session */
void accounts_logout(api_call *c);       /* DELETE /api/v1/session */
void accounts_me(api_call *c);           /* GET /api/v1/me */
void accounts_password(api_call *c);     /* PUT /api/v1/me/password */
void accounts_user_list(api_call *c);    /* GET /api/v1/users */
void accounts_user_create(api_call *c);  /* POST /api/v1/users */
void accounts_token_list(api_call *c);   /* GET /api/v1/tokens */
void accounts_token_create(api_call *c); /* POST /api/v1/tokens */
void accounts_token_delete(api_call *c); /* DELETE /api/v1/tokens/{id} */

/* At start-up: when no user exists, makes a fresh one-time set-up token (valid 24 hours, the
 * previous one revoked) and logs the link base_url + "/setup#token=…". The token travels in
 * the fragment, which browsers never send to a server. 0, or -1. */
int accounts_bootstrap(relay_app *app, store *st, const char *base_url);

/* `pki-relay user add [--admin] NAME`: the password is read from in (one line, never argv).
 * Returns the process exit code and prints the reason to err. */
int accounts_cli_user_add(store *st, int argc, char **argv, FILE *in, FILE *err);

#endif
