/* The ACME endpoint: directory and newNonce on the loop (no I/O), every POST on a worker, where
 * the JWS is checked to the letter (RFC 8555 6.2-6.5) before any handler runs. */
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_impl.h"
#include "log/log.h"
#include "util/timefmt.h"
#include "work/work.h"

acme_config g_acme;

int acme_configure(relay_app *app, const pki_config *cfg)
{
    g_acme.app = app;
    const char *listen = pki_config_string(cfg, "http.listen", "0.0.0.0");
    char def[512];
    snprintf(def, sizeof def, "%s://%s:%lld",
             pki_config_bool(cfg, "http.tls", true) ? "https" : "http",
             strcmp(listen, "0.0.0.0") == 0 ? "localhost" : listen,
             pki_config_int(cfg, "http.port", 8443));
    snprintf(g_acme.base, sizeof g_acme.base, "%s", pki_config_string(cfg, "http.public_url", def));
    size_t n = strlen(g_acme.base);
    while (n > 0 && g_acme.base[n - 1] == '/')
        g_acme.base[--n] = 0;
    snprintf(g_acme.resolver, sizeof g_acme.resolver, "%s",
             pki_config_string(cfg, "acme.resolver", ""));
    g_acme.http01_port = (int)pki_config_int(cfg, "acme.http01_port", 80);
    g_acme.order_lifetime = pki_config_int(cfg, "acme.order_lifetime", 86400);
    g_acme.validation_timeout = (int)pki_config_int(cfg, "acme.validation_timeout", 10);
    int64_t nonce_life = pki_config_int(cfg, "acme.nonce_lifetime", 300);
    struct sockaddr_in sa;
    if (g_acme.resolver[0] && !acme_resolver_parse(g_acme.resolver, &sa)) {
        fprintf(stderr,
                "pki-relay: acme.resolver must be an IPv4 address with an optional :port,"
                " not '%s'\n",
                g_acme.resolver);
        return -1;
    }
    if (g_acme.http01_port <= 0 || g_acme.http01_port > 65535 || g_acme.order_lifetime < 60 ||
        g_acme.validation_timeout < 1 || g_acme.validation_timeout > 120 || nonce_life < 5) {
        fprintf(stderr, "pki-relay: acme: http01_port 1..65535, order_lifetime >= 60,"
                        " validation_timeout 1..120, nonce_lifetime >= 5\n");
        return -1;
    }
    g_acme.nonce_lifetime = nonce_life;
    return 0;
}

void acme_shutdown(void)
{
    acme_nonces_free(g_acme.nonces);
    g_acme.nonces = NULL;
}

void acme_url(char *out, size_t cap, const char *fmt, ...)
{
    int n = snprintf(out, cap, "%s/acme/", g_acme.base);
    if (n < 0 || (size_t)n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

json_t *acme_time(int64_t t)
{
    char buf[40];
    if (pki_time_to_rfc3339(t, buf, sizeof buf) != 0)
        return json_null();
    return json_string(buf);
}

/* Every answer carries a fresh nonce and the directory link (RFC 8555 6.5, 7.1). */
static void common_headers(httpd_response *resp, int64_t now)
{
    char nonce[ACME_NONCE_LEN], link[640];
    if (g_acme.nonces && acme_nonce_issue(g_acme.nonces, now, nonce) == 0)
        httpd_add_header(resp, "Replay-Nonce", nonce);
    httpd_add_header(resp, "Cache-Control", "no-store");
    snprintf(link, sizeof link, "<%s/acme/directory>;rel=\"index\"", g_acme.base);
    httpd_add_header(resp, "Link", link);
}

void acme_add_common_headers(acme_req *r)
{
    common_headers(&r->resp, r->now);
}

static void send_json(httpd_response *resp, int status, const char *ctype, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text) {
        httpd_respond_error(resp, 500, "internal", "cannot encode");
        return;
    }
    httpd_respond(resp, status, ctype, text, strlen(text));
    free(text);
}

json_t *acme_problem_json(const char *type, int status, const char *detail)
{
    char t[128];
    snprintf(t, sizeof t, "urn:ietf:params:acme:error:%s", type);
    return json_pack("{s:s, s:s, s:i}", "type", t, "detail", detail, "status", status);
}

static void problem_resp(httpd_response *resp, int64_t now, int status, const char *type,
                         const char *detail)
{
    send_json(resp, status, "application/problem+json", acme_problem_json(type, status, detail));
    common_headers(resp, now);
}

void acme_problem(acme_req *r, int status, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memset(r->resp.headers, 0, sizeof r->resp.headers);
    problem_resp(&r->resp, r->now, status, type, msg);
}

void acme_json(acme_req *r, int status, json_t *obj, const char *location)
{
    send_json(&r->resp, status, "application/json", obj);
    if (location)
        httpd_add_header(&r->resp, "Location", location);
    common_headers(&r->resp, r->now);
}

static void directory(httpd_response *resp, int64_t now)
{
    char u[8][600];
    const char *names[] = {"new-nonce", "new-account", "new-order", "revoke-cert", "key-change"};
    for (int i = 0; i < 5; i++)
        acme_url(u[i], sizeof u[i], "%s", names[i]);
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:b}}", "newNonce", u[0], "newAccount",
                          u[1], "newOrder", u[2], "revokeCert", u[3], "keyChange", u[4], "meta",
                          "externalAccountRequired", 1);
    send_json(resp, 200, "application/json", d);
    common_headers(resp, now);
}

/* ---- the worker side ---- */

typedef struct {
    httpd_deferred *token;
    acme_req r;
} acme_job;

static void free_req(acme_req *r)
{
    free(r->path);
    free(r->body);
    free(r->resp.body);
    jws_msg_free(&r->jws);
    if (r->payload)
        json_decref(r->payload);
    acme_account_clear(&r->acct);
    free(r->jwk_spki);
}

static const char *problem_for(jws_status st)
{
    switch (st) {
    case JWS_BAD_ALG:
        return "badSignatureAlgorithm";
    case JWS_BAD_PUBLIC_KEY:
        return "badPublicKey";
    default:
        return "malformed";
    }
}

/* "<base>/acme/acct/<id>" -> id */
static int64_t kid_account(const char *kid)
{
    char prefix[600];
    acme_url(prefix, sizeof prefix, "acct/");
    size_t n = strlen(prefix);
    if (strncmp(kid, prefix, n) != 0)
        return 0;
    char *end;
    long long id = strtoll(kid + n, &end, 10);
    return *end || id <= 0 || !isdigit((unsigned char)kid[n]) ? 0 : id;
}

/* Requests that may be signed with a bare key rather than an account (RFC 8555 6.2). */
static bool jwk_allowed(const char *path)
{
    return strcmp(path, "/acme/new-account") == 0 || strcmp(path, "/acme/revoke-cert") == 0;
}

/* RFC 8555 6.2-6.4: parse, nonce, url, key (jwk xor kid), alg, signature. */
static bool authenticate(acme_req *r)
{
    char err[256];
    if (strncasecmp(r->content_type, "application/jose+json", 21) != 0) {
        acme_problem(r, 415, "malformed", "Content-Type must be application/jose+json");
        return false;
    }
    jws_status st = jws_parse(r->body, r->body_len, &r->jws, err, sizeof err);
    if (st != JWS_OK) {
        acme_problem(r, 400, problem_for(st), "%s", err);
        return false;
    }
    if (!r->jws.nonce || !acme_nonce_consume(g_acme.nonces, r->jws.nonce, r->now)) {
        acme_problem(r, 400, "badNonce", "the nonce is missing, unknown, expired or used");
        return false;
    }
    char want[1200];
    snprintf(want, sizeof want, "%s%s", g_acme.base, r->path);
    if (!r->jws.url || strcmp(r->jws.url, want) != 0) {
        acme_problem(r, 401, "unauthorized", "the JWS 'url' must be the request URL %s", want);
        return false;
    }
    if (!r->jws.jwk == !r->jws.kid) {
        acme_problem(r, 400, "malformed", "the JWS needs exactly one of 'jwk' and 'kid'");
        return false;
    }
    if (!r->jws.jwk && strcmp(r->path, "/acme/new-account") == 0) {
        acme_problem(r, 400, "malformed", "newAccount must be signed with a 'jwk'");
        return false;
    }
    if (r->jws.jwk && !jwk_allowed(r->path)) {
        acme_problem(r, 400, "malformed", "this request must be signed with the account 'kid'");
        return false;
    }
    json_t *jwk = r->jws.jwk;
    json_t *stored = NULL;
    if (r->jws.kid) {
        int64_t id = kid_account(r->jws.kid);
        if (!id || acme_account_get(r->st, id, &r->acct) != STORE_OK) {
            acme_problem(r, 400, "accountDoesNotExist", "no account %s", r->jws.kid);
            return false;
        }
        json_error_t jerr;
        stored = json_loads(r->acct.jwk, 0, &jerr);
        jwk = stored;
    }
    st = jwk ? jwk_to_spki(jwk, &r->jwk_spki, &r->jwk_spki_len, &r->jwk_type, err, sizeof err)
             : JWS_BAD_PUBLIC_KEY;
    if (stored)
        json_decref(stored);
    if (st != JWS_OK) {
        acme_problem(r, 400, problem_for(st), "%s", err);
        return false;
    }
    st = jws_verify(&r->jws, r->jwk_spki, r->jwk_spki_len, r->jwk_type, err, sizeof err);
    if (st != JWS_OK) {
        acme_problem(r, 400, problem_for(st), "%s", err);
        return false;
    }
    if (r->acct.id && strcmp(r->acct.status, "valid") != 0) {
        acme_problem(r, 401, "unauthorized", "the account is %s", r->acct.status);
        return false;
    }
    if (r->jws.payload_len > 0) {
        json_error_t jerr;
        r->payload = json_loadb((const char *)r->jws.payload, r->jws.payload_len,
                                JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(r->payload)) {
            acme_problem(r, 400, "malformed", "the payload must be a JSON object");
            return false;
        }
    }
    return true;
}

/* Path "/acme/<a>/<id>[/<b>]" -> id and the trailing segment. */
static int64_t path_id(const char *path, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || !isdigit((unsigned char)path[n]))
        return 0;
    char *end;
    long long id = strtoll(path + n, &end, 10);
    if (id <= 0 || (*end && *end != '/'))
        return 0;
    *rest = end;
    return id;
}

static void route(acme_req *r)
{
    const char *p = r->path, *rest = "";
    int64_t id;
    if (strcmp(p, "/acme/new-account") == 0)
        acme_new_account(r);
    else if (strcmp(p, "/acme/new-order") == 0)
        acme_new_order(r);
    else if (strcmp(p, "/acme/revoke-cert") == 0)
        acme_revoke(r);
    else if (strcmp(p, "/acme/key-change") == 0)
        acme_key_change(r);
    else if ((id = path_id(p, "/acme/acct/", &rest)) && !*rest)
        acme_account_post(r, id);
    else if (id && strcmp(rest, "/orders") == 0)
        acme_account_orders(r, id);
    else if ((id = path_id(p, "/acme/order/", &rest)) && !*rest)
        acme_order_post(r, id);
    else if (id && strcmp(rest, "/finalize") == 0)
        acme_finalize(r, id);
    else if ((id = path_id(p, "/acme/authz/", &rest)) && !*rest)
        acme_authz_post(r, id);
    else if ((id = path_id(p, "/acme/chall/", &rest)) &&
             (strcmp(rest, "/http-01") == 0 || strcmp(rest, "/dns-01") == 0))
        acme_challenge_post(r, id, strcmp(rest, "/http-01") == 0 ? 0 : 1);
    else if ((id = path_id(p, "/acme/cert/", &rest)) && !*rest)
        acme_cert_post(r, id);
    else
        acme_problem(r, 404, "malformed", "no such ACME resource");
}

static void run(void *thread_ctx, void *arg)
{
    acme_job *j = arg;
    acme_req *r = &j->r;
    r->st = thread_ctx;
    r->now = pki_now();
    if (acme_store_ensure(r->st) != STORE_OK)
        acme_problem(r, 500, "serverInternal", "storage unavailable");
    else if (authenticate(r))
        route(r);
    if (r->resp.status == 0)
        acme_problem(r, 500, "serverInternal", "no answer");
    httpd_complete(j->token, &r->resp);
    r->resp.body = NULL;
    free_req(r);
    free(j);
}

void acme_dispatch(relay_app *app, const httpd_request *req, httpd_response *resp)
{
    int64_t now = pki_now();
    /* Made on first use, on the loop thread, so commands that never serve (user add, …) do not
     * allocate it; workers see it through the pool's queue lock. */
    if (!g_acme.nonces && !(g_acme.nonces = acme_nonces_new(g_acme.nonce_lifetime, 65536))) {
        httpd_respond_error(resp, 503, "busy", "out of memory");
        return;
    }
    if (strcmp(req->path, "/acme/directory") == 0) {
        if (strcmp(req->method, "GET") != 0)
            problem_resp(resp, now, 405, "malformed", "the directory is fetched with GET");
        else
            directory(resp, now);
        return;
    }
    if (strcmp(req->path, "/acme/new-nonce") == 0) {
        /* RFC 8555 7.2: HEAD answers 200, GET 204; both carry the nonce. */
        if (strcmp(req->method, "HEAD") == 0 || strcmp(req->method, "GET") == 0) {
            httpd_respond(resp, strcmp(req->method, "HEAD") == 0 ? 200 : 204, "text/plain", "", 0);
            common_headers(resp, now);
        } else {
            problem_resp(resp, now, 405, "malformed", "use HEAD or GET for a nonce");
        }
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        httpd_add_header(resp, "Allow", "POST");
        problem_resp(resp, now, 405, "malformed",
                     "ACME resources are fetched with POST-as-GET (RFC 8555 6.3)");
        return;
    }
    acme_job *j = calloc(1, sizeof *j);
    if (!j) {
        problem_resp(resp, now, 503, "serverInternal", "out of memory");
        return;
    }
    acme_req *r = &j->r;
    r->app = app;
    snprintf(r->method, sizeof r->method, "%s", req->method);
    r->path = strdup(req->path);
    r->body = malloc(req->body_len + 1);
    if (!r->path || !r->body) {
        free_req(r);
        free(j);
        problem_resp(resp, now, 503, "serverInternal", "out of memory");
        return;
    }
    memcpy(r->body, req->body ? (const void *)req->body : "", req->body_len);
    r->body[req->body_len] = 0;
    r->body_len = req->body_len;
    httpd_header(req, "content-type", r->content_type, sizeof r->content_type);
    j->token = httpd_defer(req);
    if (!j->token || work_submit(app->pool, run, j) != 0) {
        httpd_response busy = {0};
        problem_resp(&busy, now, 503, "rateLimited", "the server is busy; retry shortly");
        httpd_add_header(&busy, "Retry-After", "1");
        if (j->token)
            httpd_complete(j->token, &busy);
        else
            *resp = busy;
        free_req(r);
        free(j);
    }
}
