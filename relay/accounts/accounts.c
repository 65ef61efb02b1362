/* Login, logout, users and API tokens over the REST API. */
#include <stdio.h>
#include <string.h>

#include "accounts/accounts.h"
#include "log/log.h"

#define SESSION_COOKIE "pkr_session"
#define CSRF_COOKIE "pkr_csrf"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-"

static json_t *user_json(const store_user *u)
{
    return json_pack("{s:I,s:s,s:b,s:o}", "id", (json_int_t)u->id, "name", u->name, "admin",
                     u->admin, "created", api_time(u->created));
}

static bool valid_name(api_call *c, const char *name)
{
    if (strspn(name, NAME_CHARS) != strlen(name) || strlen(name) >= STORE_NAME_MAX) {
        api_error(c, 400, "bad_field",
                  "'name' may use letters, digits and . _ @ - (at most %d characters)",
                  STORE_NAME_MAX - 1);
        return false;
    }
    return true;
}

static bool valid_password(api_call *c, const char *pw)
{
    if (!auth_password_acceptable(pw, strlen(pw))) {
        api_error(c, 400, "weak_password", "a password needs %d to %d characters",
                  AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
        return false;
    }
    return true;
}

static void set_cookies(api_call *c, const char *token, long max_age)
{
    char line[512], csrf[AUTH_CSRF_LEN] = "";
    /* The session cookie is invisible to scripts; the CSRF cookie is meant to be read. */
    auth_cookie_opts sess = {.http_only = true, .secure = true, .max_age = max_age};
    auth_cookie_opts xsrf = {.http_only = false, .secure = true, .max_age = max_age};
    if (token && auth_csrf_token(token, csrf) != 0)
        csrf[0] = '\0';
    if (auth_cookie_format(line, sizeof line, SESSION_COOKIE, token ? token : "", &sess) == 0)
        httpd_add_header(&c->resp, "Set-Cookie", line);
    if (auth_cookie_format(line, sizeof line, CSRF_COOKIE, csrf, &xsrf) == 0)
        httpd_add_header(&c->resp, "Set-Cookie", line);
}

void accounts_login(api_call *c)
{
    const char *name, *pw;
    if (!api_body_str(c, "name", true, 256, &name) ||
        !api_body_str(c, "password", true, AUTH_PASSWORD_MAX, &pw))
        return;
    char ukey[300], ikey[100];
    snprintf(ukey, sizeof ukey, "user:%s", name);
    snprintf(ikey, sizeof ikey, "ip:%s", c->remote);
    unsigned wait = auth_throttle_wait(c->app->throttle, ukey, c->now);
    unsigned wait_ip = auth_throttle_wait(c->app->throttle_ip, ikey, c->now);
    if (wait_ip > wait)
        wait = wait_ip;
    if (wait > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%u", wait);
        api_error(c, 429, "too_many_attempts", "too many failed logins; retry in %u seconds", wait);
        httpd_add_header(&c->resp, "Retry-After", ra);
        return;
    }
    store_user u;
    int found = store_user_get_by_name(c->st, name, &u);
    int ok = 0;
    if (found == STORE_OK)
        ok = auth_password_verify(u.pw_hash, pw, strlen(pw));
    else
        auth_password_burn(pw, strlen(pw)); /* same cost as a wrong password */
    if (ok != 1) {
        auth_throttle_failure(c->app->throttle, ukey, c->now);
        auth_throttle_failure(c->app->throttle_ip, ikey, c->now);
        api_audit(c, "session.login_failed", NULL, 0, json_pack("{s:s}", "name", name));
        api_error(c, 401, "invalid_credentials", "wrong user name or password");
        return;
    }
    auth_throttle_success(c->app->throttle, ukey);
    char token[64], digest[AUTH_DIGEST_HEX], csrf[AUTH_CSRF_LEN];
    int64_t expires = c->now + c->app->session_lifetime_s;
    if (auth_token_new(32, token, sizeof token) != 0 || auth_token_digest(token, digest) != 0 ||
        auth_csrf_token(token, csrf) != 0 ||
        store_session_create(c->st, digest, u.id, c->now, expires) != STORE_OK) {
        api_error(c, 500, "internal", "cannot create a session");
        return;
    }
    c->authed = true;
    c->user = u;
    api_audit(c, "session.login", NULL, 0, NULL);
    api_json(c, 200,
             json_pack("{s:o,s:s,s:o}", "user", user_json(&u), "csrf_token", csrf, "expires",
                       api_time(expires)));
    set_cookies(c, token, (long)c->app->session_lifetime_s);
    memset(token, 0, sizeof token);
}

void accounts_logout(api_call *c)
{
    if (c->via_session)
        store_session_delete(c->st, c->session_digest);
    api_audit(c, "session.logout", NULL, 0, NULL);
    api_no_content(c);
    set_cookies(c, NULL, -1);
}

void accounts_me(api_call *c)
{
    api_json(c, 200,
             json_pack("{s:o,s:s}", "user", user_json(&c->user), "auth",
                       c->via_session ? "session" : "token"));
}

void accounts_password(api_call *c)
{
    const char *cur, *pw;
    if (!api_body_str(c, "current_password", true, AUTH_PASSWORD_MAX, &cur) ||
        !api_body_str(c, "new_password", true, AUTH_PASSWORD_MAX, &pw) || !valid_password(c, pw))
        return;
    if (auth_password_verify(c->user.pw_hash, cur, strlen(cur)) != 1) {
        api_error(c, 403, "invalid_credentials", "the current password is wrong");
        return;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(pw, strlen(pw), hash, sizeof hash) != 0 ||
        store_begin(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot change the password");
        return;
    }
    /* Every other session of this user ends; this one is re-created by logging in again. */
    if (store_user_set_password(c->st, c->user.id, hash) != STORE_OK ||
        store_session_delete_user(c->st, c->user.id) != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot change the password");
        return;
    }
    api_audit(c, "user.password", NULL, 0, NULL);
    if (store_commit(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot change the password");
        return;
    }
    api_no_content(c);
    set_cookies(c, NULL, -1);
}

static int add_user(void *ctx, const store_user *u)
{
    json_array_append_new(ctx, user_json(u));
    return 0;
}

void accounts_user_list(api_call *c)
{
    json_t *arr = json_array();
    if (store_user_list(c->st, add_user, arr) != STORE_OK) {
        json_decref(arr);
        api_error(c, 500, "internal", "cannot list users");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "users", arr));
}

void accounts_user_create(api_call *c)
{
    const char *name, *pw;
    bool admin;
    if (!api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) || !valid_name(c, name) ||
        !api_body_str(c, "password", true, AUTH_PASSWORD_MAX, &pw) || !valid_password(c, pw) ||
        !api_body_bool(c, "admin", false, &admin))
        return;
    char hash[AUTH_HASH_MAX];
    int64_t id;
    if (auth_password_hash(pw, strlen(pw), hash, sizeof hash) != 0) {
        api_error(c, 500, "internal", "cannot hash the password");
        return;
    }
    int rc = store_user_create(c->st, name, hash, admin, c->now, &id);
    if (rc == STORE_CONFLICT) {
        api_error(c, 409, "conflict", "a user named '%s' exists", name);
        return;
    }
    store_user u;
    if (rc != STORE_OK || store_user_get(c->st, id, &u) != STORE_OK) {
        api_error(c, 500, "internal", "cannot create the user");
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "user:%lld", (long long)id);
    api_audit(c, "user.create", target, 0, json_pack("{s:s,s:b}", "name", name, "admin", admin));
    api_json(c, 201, user_json(&u));
}

static json_t *token_json(const store_token *t)
{
    return json_pack("{s:I,s:s,s:o,s:o,s:o}", "id", (json_int_t)t->id, "name", t->name, "created",
                     api_time(t->created), "expires", api_time(t->expires), "last_used",
                     api_time(t->last_used));
}

static int add_token(void *ctx, const store_token *t)
{
    json_array_append_new(ctx, token_json(t));
    return 0;
}

void accounts_token_list(api_call *c)
{
    json_t *arr = json_array();
    if (store_token_list(c->st, c->user.id, add_token, arr) != STORE_OK) {
        json_decref(arr);
        api_error(c, 500, "internal", "cannot list tokens");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "tokens", arr));
}

void accounts_token_create(api_call *c)
{
    const char *name;
    int64_t days;
    if (!api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_int(c, "expires_days", false, 0, 3650, 0, &days))
        return;
    char token[80], digest[AUTH_DIGEST_HEX];
    int64_t id, expires = days ? c->now + days * 86400 : 0;
    if (auth_token_new_prefixed("pkr", 32, token, sizeof token) != 0 ||
        auth_token_digest(token, digest) != 0 ||
        store_token_create(c->st, c->user.id, name, digest, c->now, expires, &id) != STORE_OK) {
        api_error(c, 500, "internal", "cannot create the token");
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "token:%lld", (long long)id);
    api_audit(c, "token.create", target, 0, json_pack("{s:s}", "name", name));
    /* The token is shown once; only its digest is stored. */
    api_json(c, 201,
             json_pack("{s:I,s:s,s:s,s:o,s:o}", "id", (json_int_t)id, "name", name, "token", token,
                       "created", api_time(c->now), "expires", api_time(expires)));
    memset(token, 0, sizeof token);
}

void accounts_token_delete(api_call *c)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return;
    int rc = store_token_delete(c->st, c->user.id, id);
    if (rc == STORE_NOT_FOUND) {
        api_error(c, 404, "not_found", "no such token");
        return;
    }
    if (rc != STORE_OK) {
        api_error(c, 500, "internal", "cannot delete the token");
        return;
    }
    char target[48];
    snprintf(target, sizeof target, "token:%lld", (long long)id);
    api_audit(c, "token.delete", target, 0, NULL);
    api_no_content(c);
}
