#include "httpd/httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd/httpd_shared.h"
#include "log/log.h"

#define HTTPD_MAX_PATH 2048
#define HTTPD_MAX_LISTENERS 8
#define HTTPD_CHUNK 16384
/* The request target plus the values of the header fields lws knows (Cookie, Authorization, …)
 * one request may carry; more gets 431 (RFC 6585). */
#define HTTPD_MAX_HEADER_BYTES 8192
/* lws keeps a request's line and all its header fields in one table of this size and closes the
 * connection, without a word, when they overflow it: it has no hook to answer, and no call that
 * tells how full the table is or lists the fields it does not know. So the table is made much
 * bigger than what we accept, and what lies between gets a proper 431. */
#define HTTPD_LWS_HEADER_TABLE 32768

enum conn_state { CONN_IDLE, CONN_READING, CONN_DEFERRED, CONN_SENDING };

struct conn {
    httpd *h;
    struct lws *wsi;
    enum conn_state state;
    char method[8];
    char path[HTTPD_MAX_PATH];
    char query[HTTPD_MAX_PATH];
    char remote[64];
    uint8_t *body;
    size_t body_len;
    size_t body_cap;
    bool too_big;
    httpd_response resp;
    bool headers_sent;
    size_t sent;
    httpd_deferred *pending;
};

struct httpd_deferred {
    httpd *h;
    struct conn *conn; /* NULL once the connection closed; guarded by h->lock */
    httpd_response resp;
    httpd_deferred *next;
};

struct listener {
    char name[32];
    struct lws_vhost *vhost;
};

struct httpd {
    struct lws_context *ctx;
    struct lws_protocols *protocols;
    httpd_handler handler;
    void *app;
    httpd_options opts;
    pthread_mutex_t lock;
    httpd_deferred *completed; /* guarded by lock */
    lws_sorted_usec_list_t tick_sul;
    struct listener listeners[HTTPD_MAX_LISTENERS];
    int n_listeners;
};

/* Bodies carry secrets (passwords, PINs, keys in requests; an HMAC key or a PKCS#12 shown once
 * in responses): wiped before their memory goes back to the allocator. */
static void body_free(void *body, size_t len)
{
    if (body) {
        explicit_bzero(body, len);
        free(body);
    }
}

static void response_reset(httpd_response *r)
{
    body_free(r->body, r->body_len);
    /* Field by field: a memset of the whole struct (2 KiB of header room) three times per
     * request showed in the OCSP profile. */
    r->status = 0;
    r->content_type[0] = '\0';
    r->body = NULL;
    r->body_len = 0;
    r->headers[0] = '\0';
}

void httpd_respond_take(httpd_response *resp, int status, const char *content_type, uint8_t *body,
                        size_t len)
{
    body_free(resp->body, resp->body_len);
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
    resp->body = len ? body : NULL;
    resp->body_len = len;
    if (!len)
        free(body);
}

int httpd_respond(httpd_response *resp, int status, const char *content_type, const void *body,
                  size_t len)
{
    body_free(resp->body, resp->body_len);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = status;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
    if (len) {
        resp->body = malloc(len);
        if (!resp->body) {
            resp->status = 500;
            return -1;
        }
        memcpy(resp->body, body, len);
        resp->body_len = len;
    }
    return 0;
}

int httpd_respond_text(httpd_response *resp, int status, const char *text)
{
    return httpd_respond(resp, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Writes s as a JSON string body (without quotes) into out; returns bytes needed. */
static size_t json_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        const char *rep = NULL;
        if (*p == '"')
            rep = "\\\"";
        else if (*p == '\\')
            rep = "\\\\";
        else if (*p == '\n')
            rep = "\\n";
        else if (*p < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
            rep = tmp;
        }
        if (rep) {
            size_t l = strlen(rep);
            if (o + l < cap)
                memcpy(out + o, rep, l);
            o += l;
        } else {
            if (o + 1 < cap)
                out[o] = (char)*p;
            o++;
        }
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return o;
}

int httpd_respond_error(httpd_response *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char ecode[128], emsg[2048], body[2400];
    json_escape(code, ecode, sizeof ecode);
    json_escape(msg, emsg, sizeof emsg);
    int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", ecode,
                     emsg);
    return httpd_respond(resp, status, "application/json", body, (size_t)n);
}

int httpd_add_header(httpd_response *resp, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -1;
    size_t used = strlen(resp->headers);
    int n = snprintf(resp->headers + used, sizeof resp->headers - used, "%s: %s\r\n", name, value);
    if (n < 0 || (size_t)n >= sizeof resp->headers - used) {
        resp->headers[used] = '\0';
        return -1;
    }
    return 0;
}

static const char *content_type_for(const char *path)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

int httpd_respond_file(httpd_response *resp, const char *root, const char *relpath)
{
    char want[PATH_MAX], real_root[PATH_MAX], real_file[PATH_MAX];
    while (*relpath == '/')
        relpath++;
    if (strstr(relpath, "..") ||
        snprintf(want, sizeof want, "%s/%s", root, relpath) >= (int)sizeof want)
        return httpd_respond_error(resp, 404, "not_found", "no such page");
    if (!realpath(root, real_root) || !realpath(want, real_file))
        return httpd_respond_error(resp, 404, "not_found", "no such page");
    size_t rl = strlen(real_root);
    if (strncmp(real_file, real_root, rl) != 0 || (real_file[rl] != '/' && real_file[rl] != '\0'))
        return httpd_respond_error(resp, 404, "not_found", "no such page");
    int fd = open(real_file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16 * 1024 * 1024) {
        if (fd >= 0)
            close(fd);
        return httpd_respond_error(resp, 404, "not_found", "no such page");
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        return httpd_respond_error(resp, 500, "internal", "cannot read file");
    }
    body_free(resp->body, resp->body_len);
    resp->body = buf;
    resp->body_len = got;
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type_for(real_file));
    return 0;
}

static const struct {
    const char *name;
    enum lws_token_indexes token;
} KNOWN_HEADERS[] = {
    {"cookie", WSI_TOKEN_HTTP_COOKIE},
    {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
    {"content-type", WSI_TOKEN_HTTP_CONTENT_TYPE},
    {"content-length", WSI_TOKEN_HTTP_CONTENT_LENGTH},
    {"host", WSI_TOKEN_HOST},
    {"origin", WSI_TOKEN_ORIGIN},
    {"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
    {"accept", WSI_TOKEN_HTTP_ACCEPT},
    {"referer", WSI_TOKEN_HTTP_REFERER},
    {"if-none-match", WSI_TOKEN_HTTP_IF_NONE_MATCH},
    {"if-modified-since", WSI_TOKEN_HTTP_IF_MODIFIED_SINCE},
    {"x-forwarded-for", WSI_TOKEN_X_FORWARDED_FOR},
    {"transfer-encoding", WSI_TOKEN_HTTP_TRANSFER_ENCODING},
};

const char *httpd_header(const httpd_request *req, const char *name, char *buf, size_t buflen)
{
    struct conn *c = req->conn;
    if (!c || !c->wsi || buflen == 0 || buflen > INT_MAX)
        return NULL;
    for (size_t i = 0; i < sizeof KNOWN_HEADERS / sizeof KNOWN_HEADERS[0]; i++) {
        if (strcasecmp(name, KNOWN_HEADERS[i].name) == 0) {
            int len = lws_hdr_total_length(c->wsi, KNOWN_HEADERS[i].token);
            if (len <= 0 || (size_t)len >= buflen)
                return NULL;
            if (lws_hdr_copy(c->wsi, buf, (int)buflen, KNOWN_HEADERS[i].token) < 0)
                return NULL;
            return buf;
        }
    }
    char custom[96];
    size_t nl = strlen(name);
    if (nl + 2 > sizeof custom)
        return NULL;
    for (size_t i = 0; i < nl; i++)
        custom[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    custom[nl] = ':';
    custom[nl + 1] = '\0';
    int len = lws_hdr_custom_length(c->wsi, custom, (int)nl + 1);
    if (len < 0 || (size_t)len >= buflen)
        return NULL;
    if (lws_hdr_custom_copy(c->wsi, buf, (int)buflen, custom, (int)nl + 1) < 0)
        return NULL;
    return buf;
}

const char *httpd_query_param(const httpd_request *req, const char *name, char *buf, size_t buflen)
{
    struct conn *c = req->conn;
    char key[128];
    if (!c || !c->wsi || buflen > INT_MAX ||
        snprintf(key, sizeof key, "%s=", name) >= (int)sizeof key)
        return NULL;
    /* lws has already percent-decoded each argument. */
    if (lws_get_urlarg_by_name(c->wsi, key, buf, (int)buflen) == NULL)
        return NULL;
    return buf;
}

static void conn_reset(struct conn *c)
{
    body_free(c->body, c->body_cap);
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    c->too_big = false;
    response_reset(&c->resp);
    c->headers_sent = false;
    c->sent = 0;
    c->state = CONN_IDLE;
    c->remote[0] = '\0'; /* looked up per request, when asked for (httpd_remote_addr) */
}

static int send_response(struct conn *c);

static const struct {
    enum lws_token_indexes token;
    const char *method;
} METHODS[] = {
    {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
    {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
    {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    {WSI_TOKEN_HEAD_URI, "HEAD"},
};

/* Runs the handler. send_now: the whole request has been read (no body left to arrive), so an
 * answer that is ready can be written from this callback instead of waiting for the next
 * writable event, as lws itself does in lws_return_http_status(): one write, no extra turns of
 * the loop (what the OCSP responder's cached answers need). Returns the callback's result. */
static int dispatch(struct conn *c, bool send_now)
{
    httpd *h = c->h;
    httpd_request req = {
        .method = c->method,
        .path = c->path,
        .query = c->query,
        .body = c->body ? c->body : (const uint8_t *)"",
        .body_len = c->body_len,
        .listener = "",
        .tls = lws_is_ssl(c->wsi) != 0,
        .conn = c,
    };
    struct lws_vhost *vh = lws_get_vhost(c->wsi);
    for (int i = 0; i < h->n_listeners; i++)
        if (h->listeners[i].vhost == vh)
            req.listener = h->listeners[i].name;

    response_reset(&c->resp);
    if (c->too_big) {
        httpd_respond_error(&c->resp, 413, "body_too_large", "request body exceeds %zu bytes",
                            h->opts.max_body);
    } else {
        c->state = CONN_READING;
        h->handler(h->app, &req, &c->resp);
        if (c->pending) {
            c->state = CONN_DEFERRED;
            return 0;
        }
    }
    if (c->resp.status == 0)
        httpd_respond_error(&c->resp, 500, "internal", "handler produced no response");
    c->state = CONN_SENDING;
    if (send_now)
        return send_response(c);
    lws_callback_on_writable(c->wsi);
    return 0;
}

httpd_deferred *httpd_defer(const httpd_request *req)
{
    struct conn *c = req->conn;
    httpd_deferred *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->h = c->h;
    d->conn = c;
    c->pending = d;
    return d;
}

void httpd_complete(httpd_deferred *token, httpd_response *resp)
{
    httpd *h = token->h;
    pthread_mutex_lock(&h->lock);
    token->resp = *resp;
    memset(resp, 0, sizeof *resp);
    token->next = h->completed;
    h->completed = token;
    pthread_mutex_unlock(&h->lock);
    lws_cancel_service(h->ctx);
}

static void drain_completed(httpd *h)
{
    pthread_mutex_lock(&h->lock);
    httpd_deferred *list = h->completed;
    h->completed = NULL;
    for (httpd_deferred *d = list; d; d = d->next) {
        struct conn *c = d->conn;
        if (c) {
            c->pending = NULL;
            response_reset(&c->resp);
            c->resp = d->resp;
            memset(&d->resp, 0, sizeof d->resp);
            if (c->resp.status == 0)
                httpd_respond_error(&c->resp, 500, "internal", "no response");
            c->state = CONN_SENDING;
            lws_callback_on_writable(c->wsi);
        }
    }
    pthread_mutex_unlock(&h->lock);
    while (list) {
        httpd_deferred *next = list->next;
        body_free(list->resp.body, list->resp.body_len);
        free(list);
        list = next;
    }
}

/* Adds the response's extra header lines through lws so they land in h1 and h2 alike. */
static int add_extra_headers(struct lws *wsi, const char *lines, unsigned char **p,
                             unsigned char *end)
{
    const char *line = lines;
    while (*line) {
        const char *eol = strstr(line, "\r\n");
        const char *colon = strchr(line, ':');
        if (!eol || !colon || colon > eol)
            break;
        char name[128], value[1024];
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        size_t vl = (size_t)(eol - v);
        if (nl + 2 > sizeof name || vl + 1 > sizeof value)
            return -1;
        for (size_t i = 0; i < nl; i++)
            name[i] = (char)((line[i] >= 'A' && line[i] <= 'Z') ? line[i] + 32 : line[i]);
        name[nl] = ':';
        name[nl + 1] = '\0';
        memcpy(value, v, vl);
        value[vl] = '\0';
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)value, (int)vl, p, end))
            return -1;
        line = eol + 2;
    }
    return 0;
}

static int send_response(struct conn *c)
{
    struct lws *wsi = c->wsi;
    httpd_response *r = &c->resp;
    bool head = strcmp(c->method, "HEAD") == 0;
    if (!c->headers_sent) {
        unsigned char buf[LWS_PRE + 4096 + HTTPD_CHUNK];
        unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + LWS_PRE + 4096 - 1;
        if (lws_add_http_common_headers(wsi, (unsigned int)r->status,
                                        r->content_type[0] ? r->content_type : NULL, r->body_len,
                                        &p, end))
            return -1;
        static const char base_headers[] = "X-Content-Type-Options: nosniff\r\n"
                                           "Referrer-Policy: no-referrer\r\n";
        if (add_extra_headers(wsi, base_headers, &p, end) ||
            add_extra_headers(wsi, r->headers, &p, end))
            return -1;
        c->headers_sent = true;
        if (r->body_len && !head && r->body_len <= HTTPD_CHUNK) {
            /* Headers and body in one write (h1 only on these listeners: raw bytes). */
            if (lws_finalize_http_header(wsi, &p, end))
                return -1;
            memcpy(p, r->body, r->body_len);
            p += r->body_len;
            int n = (int)(p - start);
            if (lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n)
                return -1;
        } else {
            if (lws_finalize_write_http_header(wsi, start, &p, end))
                return -1;
            if (r->body_len && !head) {
                lws_callback_on_writable(wsi);
                return 0;
            }
        }
    } else if (c->sent < r->body_len && !head) {
        unsigned char buf[LWS_PRE + HTTPD_CHUNK];
        size_t n = r->body_len - c->sent;
        if (n > HTTPD_CHUNK)
            n = HTTPD_CHUNK;
        memcpy(buf + LWS_PRE, r->body + c->sent, n);
        bool last = c->sent + n == r->body_len;
        if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)n)
            return -1;
        c->sent += n;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    /* Whole response written: keep-alive or close. */
    conn_reset(c);
    if (lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

const char *httpd_remote_addr(const httpd_request *req)
{
    struct conn *c = req->conn;
    if (!c->remote[0] && c->wsi)
        lws_get_peer_simple(c->wsi, c->remote, sizeof c->remote);
    return c->remote;
}

/* Bytes of the request target and of the values of every header field lws knows. */
static size_t header_bytes(struct lws *wsi)
{
    size_t n = 0;
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (len > 0)
            n += (size_t)len;
    }
    return n;
}

static int start_request(struct conn *c, struct lws *wsi, httpd *h)
{
    conn_reset(c);
    c->h = h;
    c->wsi = wsi;
    c->method[0] = '\0';
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
        if (lws_hdr_total_length(wsi, METHODS[i].token) > 0) {
            snprintf(c->method, sizeof c->method, "%s", METHODS[i].method);
            if (lws_hdr_copy(wsi, c->path, sizeof c->path, METHODS[i].token) < 0)
                c->path[0] = '\0';
            break;
        }
    }
    c->query[0] = '\0';
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > 0 &&
        lws_hdr_copy(wsi, c->query, sizeof c->query, WSI_TOKEN_HTTP_URI_ARGS) < 0)
        c->query[0] = '\0';
    if (header_bytes(wsi) > HTTPD_MAX_HEADER_BYTES) {
        pki_warn("refused a request with over %d bytes of header fields (431)",
                 HTTPD_MAX_HEADER_BYTES);
        httpd_respond_error(&c->resp, 431, "headers_too_large",
                            "request header fields exceed %d bytes", HTTPD_MAX_HEADER_BYTES);
        c->state = CONN_SENDING;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!c->method[0] || c->path[0] != '/') {
        httpd_respond_error(&c->resp, 400, "bad_request", "unsupported method or path");
        c->state = CONN_SENDING;
        lws_callback_on_writable(wsi);
        return 0;
    }
    char cl[32];
    long long length = 0;
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        length = atoll(cl);
    bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    if (length > 0 && (size_t)length > h->opts.max_body) {
        /* Refuse before reading: the peer learns at once, the body is never buffered. */
        c->too_big = true;
        return dispatch(c, false); /* the body is still to come: lws discards it after */
    }
    /* lws calls BODY_COMPLETION for a POST with an explicit "Content-Length: 0" too (right
     * after this callback), so that one waits for it like any body: dispatched once. */
    bool empty_post = length == 0 && strcmp(c->method, "POST") == 0 &&
                      lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    if (length > 0 || chunked || empty_post) {
        c->state = CONN_READING;
        return 0; /* dispatched on BODY_COMPLETION */
    }
    return dispatch(c, true);
}

static int append_body(struct conn *c, const void *in, size_t len)
{
    if (!c->h || c->state != CONN_READING)
        return 0; /* no request waits for a body (refused already, or lws' empty callback) */
    if (len == 0)
        return 0; /* an empty chunk: nothing to copy (and c->body may still be NULL) */
    if (c->too_big || c->body_len + len > c->h->opts.max_body) {
        c->too_big = true;
        return 0;
    }
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap * 2 : 8192;
        while (cap < c->body_len + len)
            cap *= 2;
        uint8_t *nb = malloc(cap); /* not realloc: it could leave a copy behind unwiped */
        if (!nb)
            return -1;
        if (c->body_len)
            memcpy(nb, c->body, c->body_len);
        body_free(c->body, c->body_cap);
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
    return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct conn *c = user;
    httpd *h = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return start_request(c, wsi, h);
    case LWS_CALLBACK_HTTP_BODY:
        return append_body(c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Only a request waiting for its body is dispatched: one refused before the body came
         * (400, 413, 431) is already being answered, and never twice for one request. */
        if (!c || !c->h || c->state != CONN_READING)
            return 0;
        return dispatch(c, true);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (c->state != CONN_SENDING)
            return 0;
        return send_response(c);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c && c->h) {
            pthread_mutex_lock(&c->h->lock);
            if (c->pending)
                c->pending->conn = NULL;
            c->pending = NULL;
            pthread_mutex_unlock(&c->h->lock);
            conn_reset(c);
            c->wsi = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (h)
            drain_completed(h);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void lws_log_to_ours(int level, const char *line)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", line);
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
        msg[--l] = '\0';
    pki_log(level == LLL_ERR ? LOG_ERR : LOG_WARNING, "lws: %s", msg);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    httpd *h = lws_container_of(sul, httpd, tick_sul);
    if (h->opts.tick)
        h->opts.tick(h->app);
    lws_sul_schedule(h->ctx, 0, &h->tick_sul, tick_cb, (lws_usec_t)h->opts.tick_ms * 1000);
}

httpd *httpd_new(const httpd_options *opts, httpd_handler handler, void *app)
{
    httpd *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (opts)
        h->opts = *opts;
    if (!h->opts.max_body)
        h->opts.max_body = 1024 * 1024;
    h->handler = handler;
    h->app = app;
    pthread_mutex_init(&h->lock, NULL);

    size_t extra = 0;
    while (h->opts.extra_protocols && h->opts.extra_protocols[extra].name)
        extra++;
    h->protocols = calloc(extra + 3, sizeof *h->protocols);
    if (!h->protocols) {
        free(h);
        return NULL;
    }
    h->protocols[0].name = "http";
    h->protocols[0].callback = http_callback;
    h->protocols[0].per_session_data_size = sizeof(struct conn);
    for (size_t i = 0; i < extra; i++)
        h->protocols[1 + i] = h->opts.extra_protocols[i];
    if (h->opts.share_port) {
        h->protocols[1 + extra].name = HTTPD_ACCEPT_PROTOCOL;
        h->protocols[1 + extra].callback = httpd_accept_callback;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    /* A server on a shared port is plain HTTP. It must not touch the TLS library's globals,
     * which lws would also tear down when it ends, under the feet of the HTTPS server. */
    if (!h->opts.share_port)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = h;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.max_http_header_data = HTTPD_LWS_HEADER_TABLE;
    /* How long a request may take between being read and being answered. libwebsockets'
     * default (5 s) dropped, without an answer, any request a worker took longer over: an HSM
     * CA's CRL waiting behind another remake on a slow card, or an RSA key generated on a real
     * YubiKey (10-30 s). The link signer gives up after 10 s, and card jobs say so themselves. */
    info.timeout_secs = 60;
    h->ctx = lws_create_context(&info);
    if (!h->ctx) {
        pki_err("cannot create the libwebsockets context");
        free(h->protocols);
        free(h);
        return NULL;
    }
    if (h->opts.tick && h->opts.tick_ms)
        lws_sul_schedule(h->ctx, 0, &h->tick_sul, tick_cb, (lws_usec_t)h->opts.tick_ms * 1000);
    return h;
}

int httpd_add_listener(httpd *h, const char *name, const char *address, int port,
                       const char *cert_path, const char *key_path)
{
    if (h->n_listeners >= HTTPD_MAX_LISTENERS)
        return -1;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.vhost_name = name;
    info.port = port;
    info.iface = address;
    info.protocols = h->protocols;
    info.alpn = "http/1.1";
    info.keepalive_timeout = 30;
    info.timeout_secs = 30;
    int shared_fd = -1;
    if (h->opts.share_port) {
        /* The vhost serves what httpd_accept_callback adopts; it listens on nothing itself. */
        shared_fd = httpd_shared_socket(address, port);
        if (shared_fd < 0)
            return -1;
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    }
    if (cert_path) {
        /* lws enables TLS on a vhost only when its own options ask for it. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert_path;
        info.ssl_private_key_filepath = key_path;
    }
    struct lws_vhost *vh = lws_create_vhost(h->ctx, &info);
    if (!vh) {
        pki_err("cannot listen on %s:%d (%s)", address ? address : "*", port, name);
        if (shared_fd >= 0)
            close(shared_fd);
        return -1;
    }
    if (shared_fd >= 0) {
        lws_sock_file_fd_type u = {.filefd = shared_fd};
        if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, HTTPD_ACCEPT_PROTOCOL,
                                        NULL)) {
            pki_err("cannot watch the listener on %s:%d (%s)", address ? address : "*", port, name);
            return -1; /* lws closed the descriptor */
        }
    }
    struct listener *l = &h->listeners[h->n_listeners++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->vhost = vh;
    pki_info("listening on %s://%s:%d (%s)", cert_path ? "https" : "http", address ? address : "*",
             port, name);
    return 0;
}

void httpd_wake(httpd *h)
{
    if (h && h->ctx)
        lws_cancel_service(h->ctx);
}

int httpd_run(httpd *h, volatile sig_atomic_t *stop)
{
    int n = 0;
    while (n >= 0 && !*stop)
        n = lws_service(h->ctx, 0);
    return n < 0 ? -1 : 0;
}

struct lws_context *httpd_lws_context(httpd *h)
{
    return h ? h->ctx : NULL;
}

void httpd_free(httpd *h)
{
    if (!h)
        return;
    lws_sul_cancel(&h->tick_sul);
    lws_context_destroy(h->ctx);
    drain_completed(h);
    pthread_mutex_destroy(&h->lock);
    free(h->protocols);
    free(h);
}
