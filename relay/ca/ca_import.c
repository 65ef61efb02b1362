/* Importing a CA certificate (CA-3, CA-4): key match, CA flag, complete chain. Uses lib/pkix
 * (and so not lib/x509's header, which shares some names). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_impl.h"
#include "der/der_reader.h"
#include "keys/keys.h"
#include "log/log.h"
#include "pkix/pkix.h"
#include "x509/x509.h"

#define MAX_CHAIN 8

void ca_checked_free(ca_checked *k)
{
    free(k->cert_der);
    free(k->chain_der);
    memset(k, 0, sizeof *k);
}

static bool same_span(pki_span a, pki_span b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static bool issued_by(const pki_cert *child, const pki_cert *parent)
{
    return same_span(child->issuer_der, parent->subject_der) &&
           pki_cert_verify(child, parent->spki.p, parent->spki.len) == 0;
}

/* Every PEM block (or one DER certificate) of text into certs. */
static int parse_all(const char *text, pki_cert **certs, size_t *n, size_t max, char *err,
                     size_t errlen)
{
    size_t len = strlen(text), off = 0;
    while (off < len && *n < max) {
        uint8_t *der = NULL;
        size_t dlen = 0, end = 0;
        int rc = pki_pem_decode(text + off, len - off, "CERTIFICATE", &der, &dlen, NULL, 0, &end);
        if (rc == 1)
            break;
        if (rc != 0) {
            snprintf(err, errlen, "malformed PEM block");
            return -1;
        }
        char why[200];
        pki_cert *c = pki_cert_parse(der, dlen, why, sizeof why);
        free(der);
        if (!c) {
            snprintf(err, errlen, "%s", why);
            return -1;
        }
        certs[(*n)++] = c;
        off += end;
    }
    return 0;
}

typedef struct {
    const pki_cert *child;
    pki_cert *found;
} find_ctx;

static int find_issuer(void *ctx, const store_ca *ca)
{
    find_ctx *f = ctx;
    if (!ca->cert_der)
        return 0;
    char why[100];
    pki_cert *c = pki_cert_parse(ca->cert_der, ca->cert_len, why, sizeof why);
    if (c && issued_by(f->child, c)) {
        f->found = c;
        return 1;
    }
    pki_cert_free(c);
    return 0;
}

/* ---- fetching an issuer through AIA caIssuers (RFC 5280 4.2.2.1) ---- */

#define AIA_MAX_BYTES (64 * 1024)

typedef struct {
    uint8_t *buf;
    size_t len;
} fetch_buf;

static size_t fetch_write(char *p, size_t size, size_t n, void *ctx)
{
    fetch_buf *b = ctx;
    size_t add = size * n;
    if (b->len + add > AIA_MAX_BYTES)
        return 0; /* too big: abort the transfer */
    uint8_t *nb = realloc(b->buf, b->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + b->len, p, add);
    b->buf = nb;
    b->len += add;
    return add;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The first caIssuers http(s) URL of a certificate's AIA extension into url. */
static bool aia_ca_issuers(const pki_cert *c, char *url, size_t cap)
{
    const pki_extension *e = pki_extensions_find(&c->ext, "1.3.6.1.5.5.7.1.1");
    if (!e)
        return false;
    pki_der d, seq;
    pki_der_init(&d, e->value.p, e->value.len);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &seq, NULL) != 0)
        return false;
    while (pki_der_enter_expect(&seq, PKI_DER_SEQUENCE, &d, NULL) == 0) {
        pki_der_item method, loc;
        if (pki_der_expect(&d, PKI_DER_OID, &method) != 0 || pki_der_next(&d, &loc) != 0)
            return false;
        if (pki_der_oid_is(&method, "1.3.6.1.5.5.7.48.2") && loc.tag == PKI_DER_CTX(6) &&
            loc.len < cap) {
            memcpy(url, loc.val, loc.len);
            url[loc.len] = '\0';
            if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
                return true;
        }
    }
    return false;
}

/* Fetches and parses the issuer certificate named by c's AIA (DER or PEM), NULL otherwise.
 * Bounded: http(s) only, 5 s, 64 KiB, 3 redirects. */
static pki_cert *aia_fetch(const pki_cert *c)
{
    char url[1024];
    if (!aia_ca_issuers(c, url, sizeof url))
        return NULL;
    pthread_once(&g_curl_once, curl_init);
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    fetch_buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    long code = 0;
    pki_cert *parent = NULL;
    if (curl_easy_perform(h) == CURLE_OK &&
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200 && b.buf) {
        char why[160];
        parent = pki_cert_parse(b.buf, b.len, why, sizeof why);
        if (parent)
            pki_info("CA import: fetched the issuer from %s", url);
        else
            pki_notice("CA import: %s does not hold a certificate: %s", url, why);
    }
    curl_easy_cleanup(h);
    free(b.buf);
    return parent;
}

static int append(uint8_t **buf, size_t *len, pki_span s)
{
    uint8_t *nb = realloc(*buf, *len + s.len);
    if (!nb)
        return -1;
    memcpy(nb + *len, s.p, s.len);
    *buf = nb;
    *len += s.len;
    return 0;
}

int ca_check_cert(store *st, int64_t user_id, int64_t self_id, const uint8_t *spki, size_t spki_len,
                  const char *cert_pem, const char *chain_pem, ca_checked *out, int *status,
                  const char **code, char *err, size_t errlen)
{
    (void)self_id;
    memset(out, 0, sizeof *out);
    *status = 400;
    *code = "bad_certificate";
    pki_cert *given[MAX_CHAIN + 1] = {0}, *extra[MAX_CHAIN] = {0};
    size_t ng = 0, ne = 0;
    int rc = -1;
    if (parse_all(cert_pem, given, &ng, 1, err, errlen) != 0)
        goto out;
    if (ng == 0) {
        snprintf(err, errlen, "no certificate found (PEM 'CERTIFICATE' expected)");
        goto out;
    }
    pki_cert *cert = given[0];
    if (cert->spki.len != spki_len || memcmp(cert->spki.p, spki, spki_len) != 0) {
        *code = "key_mismatch";
        snprintf(err, errlen, "the certificate's public key is not this CA's key");
        goto out;
    }
    if (!cert->ext.has_basic_constraints || !cert->ext.is_ca) {
        *code = "not_a_ca";
        snprintf(err, errlen, "not a CA certificate (basicConstraints cA is not set)");
        goto out;
    }
    if (cert->ext.has_key_usage && !(cert->ext.key_usage & PKI_KU_KEY_CERT_SIGN)) {
        *code = "not_a_ca";
        snprintf(err, errlen, "the certificate's key usage does not allow certificate signing");
        goto out;
    }
    if (chain_pem && parse_all(chain_pem, extra, &ne, MAX_CHAIN, err, errlen) != 0)
        goto out;
    /* Walk up: the supplied chain first, then this user's CAs on the relay, then AIA. */
    uint8_t *chain = NULL;
    size_t chain_len = 0;
    const pki_cert *cur = cert;
    pki_cert *owned[MAX_CHAIN] = {0};
    size_t nowned = 0;
    bool complete = false;
    for (int depth = 0; depth <= MAX_CHAIN; depth++) {
        if (same_span(cur->issuer_der, cur->subject_der) &&
            pki_cert_verify(cur, cur->spki.p, cur->spki.len) == 0) {
            complete = true;
            break;
        }
        const pki_cert *parent = NULL;
        for (size_t i = 0; i < ne && !parent; i++)
            if (issued_by(cur, extra[i]))
                parent = extra[i];
        if (!parent && nowned < MAX_CHAIN) {
            find_ctx f = {cur, NULL};
            store_ca_list(st, user_id, find_issuer, &f);
            if (f.found)
                parent = owned[nowned++] = f.found;
        }
        if (!parent && nowned < MAX_CHAIN) {
            pki_cert *fetched = aia_fetch(cur);
            if (fetched && issued_by(cur, fetched))
                parent = owned[nowned++] = fetched;
            else
                pki_cert_free(fetched);
        }
        if (!parent || depth == MAX_CHAIN)
            break;
        if (append(&chain, &chain_len, parent->der) != 0)
            break;
        cur = parent;
    }
    if (!complete) {
        free(chain);
        *code = "chain_incomplete";
        *status = 422;
        snprintf(err, errlen,
                 "the chain to a root is incomplete: paste the issuing CA "
                 "certificates (PEM) in 'chain_pem'");
    } else {
        out->cert_der = malloc(cert->der.len);
        if (out->cert_der) {
            memcpy(out->cert_der, cert->der.p, cert->der.len);
            out->cert_len = cert->der.len;
            out->chain_der = chain;
            out->chain_len = chain_len;
            snprintf(out->subject, sizeof out->subject, "%s", cert->subject ? cert->subject : "");
            rc = 0;
        } else {
            free(chain);
            *status = 500;
        }
    }
    for (size_t i = 0; i < nowned; i++)
        pki_cert_free(owned[i]);
out:
    for (size_t i = 0; i < ng; i++)
        pki_cert_free(given[i]);
    for (size_t i = 0; i < ne; i++)
        pki_cert_free(extra[i]);
    return rc;
}

void ca_import_cert(api_call *c)
{
    store_ca ca;
    if (!ca_load(c, &ca))
        return;
    const char *cert_pem, *chain_pem;
    /* An HSM CA may take the certificate its appliance offered: then certificate_pem is
     * optional. */
    if (!api_body_text(c, "certificate_pem", !ca_is_hsm(&ca), 64 * 1024, &cert_pem) ||
        !api_body_text(c, "chain_pem", false, 512 * 1024, &chain_pem))
        goto done;
    if (ca_is_hsm(&ca)) {
        ca_hsm_import(c, &ca, cert_pem, chain_pem);
        goto done;
    }
    if (strcmp(ca.status, "pending") != 0) {
        api_error(c, 409, "not_pending", "this CA already has its certificate");
        goto done;
    }
    ca_checked chk;
    int status;
    const char *code;
    char err[300];
    if (ca_check_cert(c->st, c->user.id, ca.id, ca.spki, ca.spki_len, cert_pem, chain_pem, &chk,
                      &status, &code, err, sizeof err) != 0) {
        api_error(c, status, code, "%s", err);
        goto done;
    }
    free(ca.cert_der);
    free(ca.chain_der);
    ca.cert_der = chk.cert_der;
    ca.cert_len = chk.cert_len;
    ca.chain_der = chk.chain_der;
    ca.chain_len = chk.chain_len;
    chk.cert_der = chk.chain_der = NULL;
    snprintf(ca.subject, sizeof ca.subject, "%s", chk.subject);
    snprintf(ca.status, sizeof ca.status, "active");
    pki_signer *s = ca_signer(c->app, &ca, err, sizeof err);
    if (!s || store_begin(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "%s", s ? "database busy" : err);
        goto done;
    }
    if (store_ca_update(c->st, &ca) != STORE_OK ||
        ca_make_services(c->app, c->st, &ca, s, true, NULL, err, sizeof err) != 0) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot activate the CA");
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "ca:%lld", (long long)ca.id);
    api_audit(c, "ca.import_certificate", target, ca.id, NULL);
    if (store_commit(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot activate the CA");
        goto done;
    }
    ca_forget(ca.id); /* nothing cached from before the commit survives */
    api_json(c, 200, ca_json(c->app, &ca));
done:
    store_ca_clear(&ca);
}
