/* Challenge validation on workers (RFC 8555 8.3, 8.4): HTTP-01 fetched with libcurl (timeouts,
 * a size limit, at most 10 redirects to http/https), DNS-01 through the configured resolver
 * (glibc res_n* with our own nameserver, so tests point it at a local DNS server). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "acme/acme_impl.h"
#include "log/log.h"
#include "util/timefmt.h"
#include "work/work.h"

#define HTTP01_MAX_BODY 8192

static json_t *problem(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *problem(const char *type, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return acme_problem_json(type, 400, msg);
}

bool acme_resolver_parse(const char *text, struct sockaddr_in *out)
{
    char host[128];
    long port = 53;
    if (strlen(text) >= sizeof host)
        return false;
    snprintf(host, sizeof host, "%s", text);
    char *colon = strrchr(host, ':');
    if (colon) {
        char *end;
        *colon = 0;
        port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end)
            return false;
    }
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return port > 0 && port <= 65535 && inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

/* A resolver state aimed at acme.resolver when configured; -1 on failure. */
static int resolver_init(res_state rs)
{
    memset(rs, 0, sizeof *rs);
    if (res_ninit(rs) != 0)
        return -1;
    rs->retrans = g_acme.validation_timeout > 2 ? g_acme.validation_timeout / 2 : 1;
    rs->retry = 2;
    if (!g_acme.resolver[0])
        return 0;
    struct sockaddr_in sa;
    if (!acme_resolver_parse(g_acme.resolver, &sa)) {
        res_nclose(rs);
        return -1;
    }
    rs->nscount = 1;
    rs->nsaddr_list[0] = sa;
    return 0;
}

typedef int (*rr_fn)(void *ctx, const ns_rr *rr, const ns_msg *msg);

/* Queries name/type and calls fn for each answer record of that type. Returns the number of
 * records seen, 0 for NXDOMAIN/no data, -1 for a failed look-up. */
static int dns_query(const char *name, int type, rr_fn fn, void *ctx, char *why, size_t whylen)
{
    struct __res_state rs;
    if (resolver_init(&rs) != 0) {
        snprintf(why, whylen, "the resolver %s cannot be used", g_acme.resolver);
        return -1;
    }
    uint8_t answer[8192];
    int len = res_nquery(&rs, name, ns_c_in, type, answer, sizeof answer);
    int herr = rs.res_h_errno;
    res_nclose(&rs);
    if (len < 0) {
        if (herr == HOST_NOT_FOUND || herr == NO_DATA)
            return 0;
        snprintf(why, whylen, "DNS look-up of %s failed", name);
        return -1;
    }
    ns_msg msg;
    if (ns_initparse(answer, len, &msg) != 0) {
        snprintf(why, whylen, "malformed DNS answer for %s", name);
        return -1;
    }
    int seen = 0;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
            break;
        if ((int)ns_rr_type(rr) != type)
            continue;
        seen++;
        if (fn(ctx, &rr, &msg))
            break;
    }
    return seen;
}

typedef struct {
    const char *want;
    bool found;
} txt_ctx;

static int txt_match(void *ctx, const ns_rr *rr, const ns_msg *msg)
{
    (void)msg;
    txt_ctx *t = ctx;
    const uint8_t *p = ns_rr_rdata(*rr);
    size_t n = ns_rr_rdlen(*rr), o = 0;
    char text[1024];
    size_t tl = 0;
    /* One TXT record may split its value into several strings: they are concatenated. */
    while (o < n) {
        size_t sl = p[o++];
        if (o + sl > n || tl + sl >= sizeof text)
            return 0;
        memcpy(text + tl, p + o, sl);
        tl += sl;
        o += sl;
    }
    text[tl] = 0;
    if (strcmp(text, t->want) == 0)
        t->found = true;
    return t->found;
}

bool acme_validate_dns01(const char *host, const char *keyauth, json_t **out)
{
    char name[300], want[JWK_THUMBPRINT_LEN], why[200];
    snprintf(name, sizeof name, "_acme-challenge.%s", host);
    if (jws_sha256_b64url(keyauth, strlen(keyauth), want) != 0) {
        *out = problem("serverInternal", "cannot hash the key authorization");
        return false;
    }
    txt_ctx t = {want, false};
    int n = dns_query(name, ns_t_txt, txt_match, &t, why, sizeof why);
    if (t.found)
        return true;
    if (n < 0)
        *out = problem("dns", "%s", why);
    else
        *out = problem("incorrectResponse", "no TXT record at %s holds the expected digest%s", name,
                       n == 0 ? " (none found)" : "");
    return false;
}

typedef struct {
    char addr[64];
} a_ctx;

static int a_first(void *ctx, const ns_rr *rr, const ns_msg *msg)
{
    (void)msg;
    if (ns_rr_rdlen(*rr) != 4)
        return 0;
    inet_ntop(AF_INET, ns_rr_rdata(*rr), ((a_ctx *)ctx)->addr, sizeof((a_ctx *)ctx)->addr);
    return 1;
}

typedef struct {
    char buf[HTTP01_MAX_BODY + 1];
    size_t len;
    bool too_big;
} body_buf;

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    body_buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > HTTP01_MAX_BODY) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return n;
}

/* Checks one URL of the HTTP-01 chain: http or https, a DNS name (no address literal), and on
 * the first hop the validation port, later port 80, 443 or the validation port (as public CAs
 * do, so a redirect cannot aim the relay at other local services). Sets host and port. */
static bool url_allowed(const char *url, bool first, char *host, size_t hostcap, long *port,
                        char *why, size_t whylen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    bool ok = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        *port = atol(p);
        uint8_t addr[16];
        if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
            snprintf(why, whylen, "redirect to a %s URL", scheme);
        else if (h[0] == '[' || inet_pton(AF_INET, h, addr) == 1 || strlen(h) >= hostcap)
            snprintf(why, whylen, "redirect to an address or an over-long host");
        else if (first ? *port != g_acme.http01_port
                       : (*port != 80 && *port != 443 && *port != g_acme.http01_port))
            snprintf(why, whylen, "redirect to port %ld (only 80 and 443)", *port);
        else {
            snprintf(host, hostcap, "%s", h);
            ok = true;
        }
    } else {
        snprintf(why, whylen, "malformed URL");
    }
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return ok;
}

/* One GET without following redirects. The host is resolved through acme.resolver when one is
 * configured. Returns CURLE_OK or a curl error; *location is malloc'd for a 3xx answer. */
static int fetch_once(const char *url, const char *host, long port, body_buf *b, long *status,
                      char **location, char *why, size_t whylen)
{
    struct curl_slist *resolve = NULL;
    if (g_acme.resolver[0]) {
        a_ctx a = {""};
        int n = dns_query(host, ns_t_a, a_first, &a, why, whylen);
        if (n <= 0 || !a.addr[0]) {
            if (n == 0)
                snprintf(why, whylen, "%s has no IPv4 address", host);
            return -1;
        }
        char line[400];
        snprintf(line, sizeof line, "%s:%ld:%s", host, port, a.addr);
        resolve = curl_slist_append(NULL, line);
    }
    CURL *c = curl_easy_init();
    if (!c) {
        curl_slist_free_all(resolve);
        return CURLE_OUT_OF_MEMORY;
    }
    b->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)g_acme.validation_timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)g_acme.validation_timeout);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* The challenge proves control of the name, not TLS (RFC 8555 8.3). */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pki-relay-acme");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    char *loc = NULL;
    *location = NULL;
    if (rc == CURLE_OK && *status >= 300 && *status < 400 &&
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        *location = strdup(loc);
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    if (rc != CURLE_OK)
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
    return rc;
}

bool acme_validate_http01(const char *host, const char *token, const char *keyauth, json_t **out)
{
    char url[2048], h[256], why[300];
    snprintf(url, sizeof url, "http://%s:%d/.well-known/acme-challenge/%s", host,
             g_acme.http01_port, token);
    body_buf *b = calloc(1, sizeof *b);
    if (!b) {
        *out = problem("serverInternal", "out of memory");
        return false;
    }
    bool ok = false;
    /* RFC 8555 8.3: redirects are followed (here by hand, so each hop is checked). */
    for (int hop = 0; hop <= 10 && !*out; hop++) {
        long port = 0, status = 0;
        char *next = NULL;
        if (!url_allowed(url, hop == 0, h, sizeof h, &port, why, sizeof why)) {
            *out = problem("unauthorized", "%s: %s", url, why);
            break;
        }
        int rc = fetch_once(url, h, port, b, &status, &next, why, sizeof why);
        if (rc < 0) {
            *out = problem("dns", "%s", why);
        } else if (b->too_big) {
            *out = problem("unauthorized", "the response at %s is larger than %d bytes", url,
                           HTTP01_MAX_BODY);
        } else if (rc != CURLE_OK) {
            *out = problem("connection", "fetching %s: %s", url, why);
        } else if (next) {
            snprintf(url, sizeof url, "%s", next);
        } else if (status != 200) {
            *out = problem("unauthorized", "fetching %s: HTTP status %ld", url, status);
        } else {
            b->buf[b->len] = 0;
            while (b->len > 0 && (b->buf[b->len - 1] == '\n' || b->buf[b->len - 1] == '\r' ||
                                  b->buf[b->len - 1] == ' ' || b->buf[b->len - 1] == '\t'))
                b->buf[--b->len] = 0;
            ok = strcmp(b->buf, keyauth) == 0;
            if (!ok)
                *out = problem("unauthorized", "the key authorization at %s is wrong", url);
            free(next);
            break;
        }
        free(next);
    }
    if (!ok && !*out)
        *out = problem("unauthorized", "more than 10 redirects from %s", host);
    free(b);
    return ok;
}

typedef struct {
    int64_t authz_id;
    int idx;
} val_job;

static void validate_job(void *thread_ctx, void *arg)
{
    val_job *j = arg;
    store *st = thread_ctx;
    acme_authz a = {0};
    acme_account acct = {0};
    json_t *prob = NULL;
    bool ok = false;
    if (acme_store_ensure(st) != STORE_OK || acme_authz_get(st, j->authz_id, &a) != STORE_OK ||
        acme_account_get(st, a.account_id, &acct) != STORE_OK) {
        prob = problem("serverInternal", "the authorization could not be loaded");
    } else {
        char keyauth[128];
        snprintf(keyauth, sizeof keyauth, "%s.%s", a.token, acct.thumbprint);
        ok = j->idx == 0 ? acme_validate_http01(a.value, a.token, keyauth, &prob)
                         : acme_validate_dns01(a.value, keyauth, &prob);
    }
    char *ptext = prob ? json_dumps(prob, JSON_COMPACT) : NULL;
    if (acme_authz_finish(st, j->authz_id, j->idx, ok, ptext, pki_now()) != STORE_OK)
        pki_warn("acme: authorization %lld changed during validation", (long long)j->authz_id);
    pki_info("acme: %s validation of %s (authorization %lld): %s",
             j->idx == 0 ? "http-01" : "dns-01", a.value, (long long)j->authz_id,
             ok ? "valid" : (ptext ? ptext : "invalid"));
    free(ptext);
    if (prob)
        json_decref(prob);
    acme_authz_clear(&a);
    acme_account_clear(&acct);
    free(j);
}

int acme_validate_submit(relay_app *app, int64_t authz_id, int idx)
{
    val_job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->authz_id = authz_id;
    j->idx = idx;
    if (work_submit(app->pool, validate_job, j) != 0) {
        free(j);
        return -1;
    }
    return 0;
}
