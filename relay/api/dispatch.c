/* Route matching on the loop, then authentication, CSRF, JSON parsing and the handler on a
 * worker. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/parse.h"
#include "log/log.h"
#include "util/timefmt.h"
#include "work/work.h"

#define SESSION_COOKIE "pkr_session"

typedef struct {
    httpd_deferred *token;
    api_call call;
} job;

static void free_call(api_call *c)
{
    free(c->path);
    free(c->query);
    free(c->body);
    if (c->json)
        json_decref(c->json);
    free(c->resp.body);
}

void api_error(api_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    httpd_respond_error(&c->resp, status, code, "%s", msg);
}

void api_json(api_call *c, int status, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!text) {
        httpd_respond_error(&c->resp, 500, "internal", "cannot encode the response");
        return;
    }
    size_t n = strlen(text);
    httpd_respond(&c->resp, status, "application/json", text, n);
    free(text);
}

void api_no_content(api_call *c)
{
    httpd_respond(&c->resp, 204, "application/json", "", 0);
}

bool api_param_id(api_call *c, int i, int64_t *out)
{
    const char *s = c->params[i];
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || !isdigit((unsigned char)s[0]) || *end || v <= 0) {
        api_error(c, 404, "not_found", "no such resource");
        return false;
    }
    *out = v;
    return true;
}

static bool has_control(const char *s, bool multiline)
{
    for (; *s; s++) {
        if (multiline && (*s == '\n' || *s == '\r' || *s == '\t'))
            continue;
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

static bool body_string(api_call *c, const char *key, bool required, size_t max, const char **out,
                        bool multiline)
{
    json_t *v = c->json ? json_object_get(c->json, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required) {
            api_error(c, 400, "missing_field", "'%s' is required", key);
            return false;
        }
        return true;
    }
    if (!json_is_string(v)) {
        api_error(c, 400, "bad_field", "'%s' must be a string", key);
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(s) != n || has_control(s, multiline)) {
        api_error(c, 400, "bad_field",
                  "'%s' must be 1 to %zu characters without control characters", key, max);
        return false;
    }
    *out = s;
    return true;
}

bool api_body_str(api_call *c, const char *key, bool required, size_t max, const char **out)
{
    return body_string(c, key, required, max, out, false);
}

bool api_body_text(api_call *c, const char *key, bool required, size_t max, const char **out)
{
    return body_string(c, key, required, max, out, true);
}

bool api_body_bool(api_call *c, const char *key, bool def, bool *out)
{
    json_t *v = c->json ? json_object_get(c->json, key) : NULL;
    *out = def;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v)) {
        api_error(c, 400, "bad_field", "'%s' must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool api_body_int(api_call *c, const char *key, bool required, int64_t min, int64_t max,
                  int64_t def, int64_t *out)
{
    json_t *v = c->json ? json_object_get(c->json, key) : NULL;
    *out = def;
    if (!v || json_is_null(v)) {
        if (required) {
            api_error(c, 400, "missing_field", "'%s' is required", key);
            return false;
        }
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        api_error(c, 400, "bad_field", "'%s' must be an integer from %lld to %lld", key,
                  (long long)min, (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

const char *api_query(api_call *c, const char *name, char *buf, size_t buflen)
{
    return api_query_value(c->query, name, buf, buflen);
}

bool api_query_int(api_call *c, const char *name, long long min, long long max, long long def,
                   long long *out)
{
    char buf[32];
    *out = def;
    if (!api_query(c, name, buf, sizeof buf))
        return true;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (!buf[0] || *end || v < min || v > max) {
        api_error(c, 400, "bad_query", "'%s' must be an integer from %lld to %lld", name, min, max);
        return false;
    }
    *out = v;
    return true;
}

json_t *api_time(int64_t t)
{
    char buf[40];
    if (t == 0 || pki_time_to_rfc3339(t, buf, sizeof buf) != 0)
        return json_null();
    return json_string(buf);
}

void api_audit(api_call *c, const char *action, const char *target, int64_t ca_id, json_t *detail)
{
    store_audit e;
    memset(&e, 0, sizeof e);
    e.time = c->now;
    e.user_id = c->authed ? c->user.id : 0;
    snprintf(e.actor, sizeof e.actor, "%s", c->authed ? c->user.name : "");
    snprintf(e.action, sizeof e.action, "%s", action);
    snprintf(e.target, sizeof e.target, "%s", target ? target : "");
    snprintf(e.remote, sizeof e.remote, "%s", c->remote);
    e.ca_id = ca_id;
    if (detail) {
        char *t = json_dumps(detail, JSON_COMPACT);
        if (t && strlen(t) < sizeof e.detail)
            snprintf(e.detail, sizeof e.detail, "%s", t);
        free(t);
        json_decref(detail);
    }
    if (store_audit_append(c->st, &e) != STORE_OK)
        pki_err("audit: cannot record %s on %s", action, e.target);
    const char *fields[] = {NULL, NULL};
    char field[96];
    if (ca_id) {
        snprintf(field, sizeof field, "CA=%lld", (long long)ca_id);
        fields[0] = field;
    }
    pki_log_fields(LOG_INFO, fields, "audit: %s %s by %s from %s", action, e.target,
                   e.actor[0] ? e.actor : "-", c->remote);
}

/* ---- authentication ---- */

static bool auth_bearer(api_call *c, const char *token)
{
    char digest[AUTH_DIGEST_HEX];
    store_token t;
    if (auth_token_digest(token, digest) != 0 || store_token_find(c->st, digest, &t) != STORE_OK ||
        (t.expires && t.expires <= c->now) ||
        store_user_get(c->st, t.user_id, &c->user) != STORE_OK) {
        api_error(c, 401, "unauthenticated", "the API token is not valid");
        return false;
    }
    if (c->now - t.last_used >= 60)
        store_token_touch(c->st, t.id, c->now);
    c->authed = true;
    return true;
}

static bool auth_session(api_call *c, const char *token)
{
    store_session s;
    if (auth_token_digest(token, c->session_digest) != 0 ||
        store_session_get(c->st, c->session_digest, &s) != STORE_OK) {
        api_error(c, 401, "unauthenticated", "the session is not valid; log in again");
        return false;
    }
    if (s.expires <= c->now || c->now - s.last_seen > c->app->session_idle_s) {
        store_session_delete(c->st, c->session_digest);
        api_error(c, 401, "session_expired", "the session has expired; log in again");
        return false;
    }
    if (store_user_get(c->st, s.user_id, &c->user) != STORE_OK) {
        api_error(c, 401, "unauthenticated", "the session is not valid; log in again");
        return false;
    }
    if (c->now - s.last_seen >= 60)
        store_session_touch(c->st, c->session_digest, c->now);
    c->authed = true;
    c->via_session = true;
    /* Double submit: scripts of our own origin can read the CSRF cookie and echo it; another
     * site can neither read it nor derive it. Bearer tokens are not sent by browsers on their
     * own, so they need no such check. */
    if (auth_method_is_unsafe(c->method) && !(c->route->flags & API_NO_CSRF) &&
        !auth_csrf_check(token, c->csrf[0] ? c->csrf : NULL)) {
        api_error(c, 403, "csrf_failed",
                  "missing or wrong X-CSRF-Token header for a cookie-authenticated request");
        return false;
    }
    return true;
}

static bool authenticate(api_call *c)
{
    if (c->authorization[0]) {
        if (strncasecmp(c->authorization, "Bearer ", 7) != 0 || !c->authorization[7]) {
            api_error(c, 401, "unauthenticated", "Authorization must be 'Bearer <token>'");
            return false;
        }
        return auth_bearer(c, c->authorization + 7);
    }
    char token[128];
    if (c->cookie[0] && auth_cookie_get(c->cookie, SESSION_COOKIE, token, sizeof token))
        return auth_session(c, token);
    api_error(c, 401, "unauthenticated", "log in or send an API token");
    return false;
}

static bool parse_body(api_call *c)
{
    if (strncasecmp(c->content_type, "application/json", 16) != 0) {
        api_error(c, 415, "unsupported_media_type", "the body must be application/json");
        return false;
    }
    json_error_t jerr;
    c->json = json_loadb((const char *)c->body, c->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->json) {
        api_error(c, 400, "bad_json", "malformed JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        return false;
    }
    if (!json_is_object(c->json)) {
        api_error(c, 400, "bad_json", "the body must be a JSON object");
        return false;
    }
    return true;
}

static void run_call(void *thread_ctx, void *arg)
{
    job *j = arg;
    api_call *c = &j->call;
    c->st = thread_ctx;
    c->now = pki_now();
    if (!(c->route->flags & API_PUBLIC) && !authenticate(c))
        goto done;
    if ((c->route->flags & API_ADMIN) && !c->user.admin) {
        api_error(c, 403, "forbidden", "administrators only");
        goto done;
    }
    if ((c->route->flags & API_BODY) && !parse_body(c))
        goto done;
    c->route->fn(c);
    if (c->resp.status == 0)
        api_error(c, 500, "internal", "the handler gave no answer");
done:
    httpd_complete(j->token, &c->resp);
    free_call(c);
    free(j);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

void api_dispatch(relay_app *app, const httpd_request *req, httpd_response *resp)
{
    char params[API_MAX_PARAMS][API_PARAM_LEN];
    int np = 0;
    const api_route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < API_ROUTES_LEN; i++) {
        if (!api_path_match(API_ROUTES[i].pattern, req->path, params, &np))
            continue;
        path_known = true;
        if (strcmp(API_ROUTES[i].method, req->method) == 0) {
            route = &API_ROUTES[i];
            break;
        }
    }
    if (!route) {
        if (path_known)
            httpd_respond_error(resp, 405, "method_not_allowed", "%s is not allowed here",
                                req->method);
        else
            httpd_respond_error(resp, 404, "not_found", "no such endpoint");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        httpd_respond_error(resp, 503, "busy", "out of memory");
        return;
    }
    api_call *c = &j->call;
    c->app = app;
    c->route = route;
    snprintf(c->method, sizeof c->method, "%s", req->method);
    memcpy(c->params, params, sizeof params);
    snprintf(c->remote, sizeof c->remote, "%s", httpd_remote_addr(req));
    c->tls = req->tls;
    c->path = dup_or_empty(req->path);
    c->query = dup_or_empty(req->query);
    c->body = malloc(req->body_len + 1);
    if (!c->path || !c->query || !c->body) {
        free_call(c);
        free(j);
        httpd_respond_error(resp, 503, "busy", "out of memory");
        return;
    }
    if (req->body_len)
        memcpy(c->body, req->body, req->body_len);
    c->body[req->body_len] = 0;
    c->body_len = req->body_len;
    /* A header too long for its buffer counts as absent (and then fails authentication). */
    httpd_header(req, "cookie", c->cookie, sizeof c->cookie);
    httpd_header(req, "authorization", c->authorization, sizeof c->authorization);
    httpd_header(req, "x-csrf-token", c->csrf, sizeof c->csrf);
    httpd_header(req, "content-type", c->content_type, sizeof c->content_type);
    j->token = httpd_defer(req);
    if (!j->token || work_submit(app->pool, run_call, j) != 0) {
        /* Too busy: answer now. (A deferred token nobody completes would leak the request.) */
        if (j->token) {
            httpd_response r = {0};
            httpd_respond_error(&r, 503, "busy", "the server is busy; retry shortly");
            httpd_complete(j->token, &r);
        } else {
            httpd_respond_error(resp, 503, "busy", "the server is busy; retry shortly");
        }
        free_call(c);
        free(j);
    }
}

void *api_worker_init(void *arg)
{
    relay_app *app = arg;
    char err[512];
    store *s = store_open(app->db_path, err, sizeof err);
    if (!s)
        pki_err("worker: %s", err);
    return s;
}

void api_worker_fini(void *ctx)
{
    store_close(ctx);
    /* wolfCrypt's fixed-point ECC cache is per thread: release it before the thread ends. */
    wc_ecc_fp_free();
}

void api_print_routes(void)
{
    for (size_t i = 0; i < API_ROUTES_LEN; i++) {
        const api_route *r = &API_ROUTES[i];
        const char *auth = (r->flags & API_PUBLIC)  ? "public"
                           : (r->flags & API_ADMIN) ? "admin"
                                                    : "user";
        printf("{\"method\":\"%s\",\"pattern\":\"%s\",\"auth\":\"%s\",\"body\":%s}\n", r->method,
               r->pattern, auth, (r->flags & API_BODY) ? "true" : "false");
    }
}
