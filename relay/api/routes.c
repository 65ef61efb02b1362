/* Every REST endpoint. docs/api.md describes each; tests walk this table (pki-relay routes). */
#include "accounts/accounts.h"
#include "api/api.h"
#include "audit/audit.h"

const api_route API_ROUTES[] = {
    {"POST", "/api/v1/setup", API_PUBLIC | API_BODY | API_NO_CSRF, accounts_setup,
     "create the first administrator with the one-time set-up token"},
    {"POST", "/api/v1/session", API_PUBLIC | API_BODY | API_NO_CSRF, accounts_login, "log in"},
    {"DELETE", "/api/v1/session", 0, accounts_logout, "log out"},
    {"GET", "/api/v1/me", 0, accounts_me, "who am I"},
    {"PUT", "/api/v1/me/password", API_BODY, accounts_password, "change my password"},
    {"GET", "/api/v1/users", API_ADMIN, accounts_user_list, "list users"},
    {"POST", "/api/v1/users", API_ADMIN | API_BODY, accounts_user_create, "create a user"},
    {"GET", "/api/v1/tokens", 0, accounts_token_list, "list my API tokens"},
    {"POST", "/api/v1/tokens", API_BODY, accounts_token_create, "create an API token"},
    {"DELETE", "/api/v1/tokens/{id}", 0, accounts_token_delete, "delete one of my API tokens"},
    {"GET", "/api/v1/audit", 0, audit_list, "audit log (administrators: all entries)"},
};

const size_t API_ROUTES_LEN = sizeof API_ROUTES / sizeof API_ROUTES[0];
