/* OCSP over HTTP: the loop-side fast path and the worker job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "ocsp/ocsp.h"
#include "ocsp/ocsp_impl.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "work/work.h"
#include "x509/x509.h"

#define MAX_REQUEST 8192

typedef struct {
    httpd_deferred *token; /* NULL: background refresh */
    relay_app *app;
    int64_t ca_id;
    uint8_t *der;
    size_t len;
    bool get;
} job;

/* "/pki/ca/<id>/ocsp" + optional "/<base64>": the CA id and where the base64 starts. */
static bool split(const char *path, int64_t *ca_id, const char **b64)
{
    if (strncmp(path, "/pki/ca/", 8) != 0)
        return false;
    char *end;
    long long id = strtoll(path + 8, &end, 10);
    if (id <= 0 || end == path + 8 || strncmp(end, "/ocsp", 5) != 0)
        return false;
    end += 5;
    if (*end == '\0') {
        *b64 = NULL;
    } else if (*end == '/') {
        *b64 = end + 1;
    } else {
        return false;
    }
    *ca_id = id;
    return true;
}

bool ocsp_is_path(const char *path)
{
    int64_t id;
    const char *b64;
    return split(path, &id, &b64);
}

/* Answers with der, which the response takes over. */
static void answer(httpd_response *resp, uint8_t *der, size_t len, bool get, int64_t valid_until)
{
    httpd_respond_take(resp, 200, "application/ocsp-response", der, len);
    if (get && valid_until) {
        int64_t age = valid_until - pki_now();
        char cc[96];
        snprintf(cc, sizeof cc, "max-age=%lld, public, no-transform, must-revalidate",
                 (long long)(age > 0 ? age : 0));
        httpd_add_header(resp, "Cache-Control", cc);
    }
}

static void run_job(void *thread_ctx, void *arg)
{
    job *j = arg;
    store *st = thread_ctx;
    ocsp_req req;
    uint8_t *der = NULL;
    size_t len = 0;
    int64_t valid_until = 0;
    if (ocsp_req_parse(j->der, j->len, &req) != 0)
        pki_ocsp_error_response(PKI_OCSP_MALFORMED_REQUEST, &der, &len);
    else
        ocsp_respond(j->app, st, j->ca_id, &req, &der, &len, &valid_until);
    if (j->token) {
        httpd_response r;
        memset(&r, 0, sizeof r);
        if (der) {
            answer(&r, der, len, j->get, valid_until);
            der = NULL;
        } else {
            httpd_respond_error(&r, 500, "internal", "cannot answer");
        }
        httpd_complete(j->token, &r);
    }
    free(der);
    free(j->der);
    free(j);
}

static int submit(relay_app *app, const httpd_request *req, int64_t ca_id, const uint8_t *der,
                  size_t len, bool get, bool background)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->app = app;
    j->ca_id = ca_id;
    j->get = get;
    j->der = malloc(len ? len : 1);
    if (!j->der) {
        free(j);
        return -1;
    }
    memcpy(j->der, der, len);
    j->len = len;
    if (!background && !(j->token = httpd_defer(req))) {
        free(j->der);
        free(j);
        return -1;
    }
    if (work_submit(app->pool, run_job, j) != 0) {
        if (j->token) {
            httpd_response r;
            memset(&r, 0, sizeof r);
            uint8_t *e = NULL;
            size_t elen = 0;
            if (pki_ocsp_error_response(PKI_OCSP_TRY_LATER, &e, &elen) == 0)
                httpd_respond(&r, 200, "application/ocsp-response", e, elen);
            free(e);
            httpd_complete(j->token, &r);
        }
        free(j->der);
        free(j);
    }
    return 0;
}

static void malformed(httpd_response *resp)
{
    uint8_t *e = NULL;
    size_t elen = 0;
    if (pki_ocsp_error_response(PKI_OCSP_MALFORMED_REQUEST, &e, &elen) == 0)
        httpd_respond(resp, 200, "application/ocsp-response", e, elen);
    else
        httpd_respond_error(resp, 500, "internal", "cannot answer");
    free(e);
}

void ocsp_handle(relay_app *app, const httpd_request *req, httpd_response *resp)
{
    int64_t ca_id;
    const char *b64;
    if (!split(req->path, &ca_id, &b64)) {
        httpd_respond_error(resp, 404, "not_found", "no such resource");
        return;
    }
    uint8_t *decoded = NULL;
    const uint8_t *der;
    size_t len;
    bool get = strcmp(req->method, "GET") == 0;
    if (get && b64) {
        if (strlen(b64) > MAX_REQUEST || pki_base64_decode(b64, strlen(b64), &decoded, &len) != 0) {
            malformed(resp);
            return;
        }
        der = decoded;
    } else if (strcmp(req->method, "POST") == 0 && !b64) {
        der = req->body;
        len = req->body_len;
        if (len == 0 || len > MAX_REQUEST) {
            malformed(resp);
            return;
        }
    } else {
        httpd_respond_error(resp, 405, "method_not_allowed",
                            "OCSP takes POST to .../ocsp or GET .../ocsp/<base64 request>");
        return;
    }
    ocsp_req r;
    if (ocsp_req_parse(der, len, &r) != 0) {
        malformed(resp);
        free(decoded);
        return;
    }
    /* Fast path: a cached pre-signed answer (single request, no nonce). */
    if (r.count == 1 && !r.nonce_len) {
        uint8_t *cached;
        size_t clen;
        int refresh;
        int64_t expires;
        int64_t now = pki_now();
        if (ocsp_cache_lookup(ca_id, r.ids[0].certid_der, r.ids[0].certid_len, now, &cached, &clen,
                              &expires, &refresh) == 0) {
            answer(resp, cached, clen, get, expires);
            if (refresh)
                submit(app, req, ca_id, der, len, get, true);
            free(decoded);
            return;
        }
    }
    if (submit(app, req, ca_id, der, len, get, false) != 0)
        httpd_respond_error(resp, 503, "busy", "the server is busy; retry shortly");
    free(decoded);
}
