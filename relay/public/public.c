/* CA certificate, chain and CPS page for relying parties. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "public/public.h"

static bool load(api_call *c, store_ca *ca)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    if (store_ca_get(c->st, 0, id, ca) == STORE_OK) {
        if (ca->cert_der)
            return true;
        store_ca_clear(ca);
    }
    api_error(c, 404, "not_found", "no such CA");
    return false;
}

void public_ca_cert(api_call *c)
{
    store_ca ca;
    if (!load(c, &ca))
        return;
    httpd_respond(&c->resp, 200, "application/pkix-cert", ca.cert_der, ca.cert_len);
    store_ca_clear(&ca);
}

void public_ca_cert_pem(api_call *c)
{
    store_ca ca;
    if (!load(c, &ca))
        return;
    char *pem = certs_pem(ca.cert_der, ca.cert_len, "CERTIFICATE");
    httpd_respond(&c->resp, 200, "application/x-pem-file", pem, pem ? strlen(pem) : 0);
    free(pem);
    store_ca_clear(&ca);
}

void public_ca_chain(api_call *c)
{
    store_ca ca;
    if (!load(c, &ca))
        return;
    size_t n = ca.cert_len + ca.chain_len;
    uint8_t *all = malloc(n);
    char *pem = NULL;
    if (all) {
        memcpy(all, ca.cert_der, ca.cert_len);
        if (ca.chain_len)
            memcpy(all + ca.cert_len, ca.chain_der, ca.chain_len);
        pem = certs_pem(all, n, "CERTIFICATE");
    }
    httpd_respond(&c->resp, 200, "application/x-pem-file", pem, pem ? strlen(pem) : 0);
    free(pem);
    free(all);
    store_ca_clear(&ca);
}

/* HTML-escapes text into a growing buffer. */
static char *escape(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n * 6 + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        const char *rep = *s == '<'    ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '&'  ? "&amp;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (rep) {
            strcpy(o, rep);
            o += strlen(rep);
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

void public_ca_cps(api_call *c)
{
    int64_t id;
    store_ca ca;
    if (!api_param_id(c, 0, &id) || store_ca_get(c->st, 0, id, &ca) != STORE_OK) {
        if (c->resp.status == 0)
            api_error(c, 404, "not_found", "no such CA");
        return;
    }
    char *name = escape(ca.name), *cps = escape(ca.cps ? ca.cps : "");
    size_t cap = (name ? strlen(name) * 2 : 0) + (cps ? strlen(cps) : 0) + 512;
    char *html = malloc(cap);
    if (name && cps && html) {
        int n = snprintf(html, cap,
                         "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<title>%s: Certification Practice Statement</title></head>\n<body>"
                         "<h1>%s</h1>\n<h2>Certification Practice Statement</h2>\n"
                         "<pre style=\"white-space:pre-wrap\">%s</pre>\n</body></html>\n",
                         name, name, cps[0] ? cps : "No statement has been published.");
        httpd_respond(&c->resp, 200, "text/html; charset=utf-8", html, (size_t)n);
        httpd_add_header(&c->resp, "Content-Security-Policy", "default-src 'none'");
    } else {
        api_error(c, 500, "internal", "out of memory");
    }
    free(html);
    free(name);
    free(cps);
    store_ca_clear(&ca);
}
