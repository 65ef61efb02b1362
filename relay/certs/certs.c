/* Issued certificates: list, read, download, revoke, unrevoke. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "crl/crl.h"
#include "store/store_crl_part.h"
#include "der/der_writer.h"
#include "keys/keys.h"
#include "ocsp/ocsp.h"

static const char *const REASONS[] = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", NULL,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
};
#define N_REASONS (sizeof REASONS / sizeof REASONS[0])

const char *cert_reason_name(int reason)
{
    return reason >= 0 && (size_t)reason < N_REASONS && REASONS[reason] ? REASONS[reason] : NULL;
}

int cert_reason_from_name(const char *name)
{
    for (size_t i = 0; i < N_REASONS; i++)
        if (REASONS[i] && strcmp(REASONS[i], name) == 0)
            return (int)i;
    return -1;
}

/* Length of the DER element at p (tag + length + content), 0 when malformed. */
static size_t element_len(const uint8_t *p, size_t avail)
{
    if (avail < 2)
        return 0;
    size_t hdr = 2, body;
    if (p[1] < 0x80) {
        body = p[1];
    } else {
        size_t n = p[1] & 0x7f;
        if (n == 0 || n > 4 || avail < 2 + n)
            return 0;
        body = 0;
        for (size_t i = 0; i < n; i++)
            body = body << 8 | p[2 + i];
        hdr += n;
    }
    return body <= avail - hdr ? hdr + body : 0;
}

char *certs_pem(const uint8_t *der, size_t len, const char *label)
{
    char *out = calloc(1, 1);
    size_t out_len = 0, off = 0;
    while (out && off < len) {
        size_t n = element_len(der + off, len - off);
        char *pem = NULL;
        size_t plen = 0;
        if (n == 0 || pki_pem_encode(label, der + off, n, &pem, &plen) != 0)
            break;
        char *nb = realloc(out, out_len + plen + 1);
        if (!nb) {
            free(pem);
            break;
        }
        memcpy(nb + out_len, pem, plen);
        out_len += plen;
        nb[out_len] = '\0';
        out = nb;
        free(pem);
        off += n;
    }
    return out;
}

static uint8_t *concat(const store_ca *ca, const uint8_t *der, size_t len, size_t *out_len)
{
    size_t n = len + ca->cert_len + ca->chain_len;
    uint8_t *all = malloc(n ? n : 1);
    if (!all)
        return NULL;
    memcpy(all, der, len);
    if (ca->cert_len)
        memcpy(all + len, ca->cert_der, ca->cert_len);
    if (ca->chain_len)
        memcpy(all + len + ca->cert_len, ca->chain_der, ca->chain_len);
    *out_len = n;
    return all;
}

char *cert_chain_pem(const store_ca *ca, const uint8_t *der, size_t len)
{
    size_t n;
    uint8_t *all = concat(ca, der, len, &n);
    if (!all)
        return NULL;
    char *pem = certs_pem(all, n, "CERTIFICATE");
    free(all);
    return pem;
}

/* PKCS#7 / CMS degenerate SignedData with the certificates and no signers (RFC 2315 "certs
 * only"), as `openssl pkcs7 -print_certs` reads it. */
static uint8_t *pkcs7_certs(const uint8_t *der, size_t len, size_t *out_len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.840.113549.1.7.2");
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_int(&w, 1);
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_oid(&w, "1.2.840.113549.1.7.1");
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    for (size_t off = 0; off < len;) {
        size_t n = element_len(der + off, len - off);
        if (n == 0)
            break;
        pki_derw_raw(&w, der + off, n);
        off += n;
    }
    pki_derw_end(&w);
    pki_derw_begin(&w, PKI_DER_SET);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_end(&w);
    return pki_derw_take(&w, out_len);
}

json_t *cert_json(const store_cert *c, bool with_pem)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:o}", "id", (json_int_t)c->id, "ca_id",
        (json_int_t)c->ca_id, "template_id", (json_int_t)c->template_id, "request_id",
        (json_int_t)c->request_id, "kind", c->kind, "serial", c->serial, "subject", c->subject,
        "not_before", api_time(c->not_before), "not_after", api_time(c->not_after), "status",
        c->revoked_at ? (c->reason == 6 ? "on_hold" : "revoked") : "issued", "revoked_at",
        api_time(c->revoked_at), "revocation_reason",
        c->revoked_at && cert_reason_name(c->reason) ? json_string(cert_reason_name(c->reason))
                                                     : json_null());
    if (with_pem && c->der) {
        char *pem = certs_pem(c->der, c->der_len, "CERTIFICATE");
        json_object_set_new(o, "pem", pem ? json_string(pem) : json_null());
        free(pem);
    }
    return o;
}

typedef struct {
    json_t *arr;
} list_ctx;

static int add_cert(void *ctx, const store_cert *c)
{
    json_array_append_new(((list_ctx *)ctx)->arr, cert_json(c, false));
    return 0;
}

void certs_list(api_call *c)
{
    int64_t ca_id;
    if (!api_param_id(c, 0, &ca_id))
        return;
    store_ca ca;
    int rc = store_ca_get(c->st, c->user.id, ca_id, &ca);
    if (rc != STORE_OK) {
        api_error(c, rc == STORE_NOT_FOUND ? 404 : 500,
                  rc == STORE_NOT_FOUND ? "not_found" : "internal", "no such CA");
        return;
    }
    store_ca_clear(&ca);
    char status[16], q[256];
    long long limit, before, tid;
    store_cert_filter f = {.ca_id = ca_id, .now = c->now};
    f.status = api_query(c, "status", status, sizeof status);
    f.subject_like = api_query(c, "q", q, sizeof q);
    if (!api_query_int(c, "limit", 1, 1000, 100, &limit) ||
        !api_query_int(c, "before", 0, INT64_MAX, 0, &before) ||
        !api_query_int(c, "template_id", 0, INT64_MAX, 0, &tid))
        return;
    if (f.status && strcmp(f.status, "active") && strcmp(f.status, "revoked") &&
        strcmp(f.status, "expired")) {
        api_error(c, 400, "bad_query", "'status' is active, revoked or expired");
        return;
    }
    f.limit = (int)limit;
    f.before = before;
    f.template_id = tid;
    list_ctx l = {json_array()};
    if (store_cert_list(c->st, &f, add_cert, &l) != STORE_OK) {
        json_decref(l.arr);
        api_error(c, 500, "internal", "cannot list certificates");
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "certificates", l.arr));
}

static bool load(api_call *c, store_cert *cert)
{
    int64_t id;
    if (!api_param_id(c, 0, &id))
        return false;
    int rc = store_cert_get(c->st, c->user.id, id, cert);
    if (rc == STORE_OK)
        return true;
    api_error(c, rc == STORE_NOT_FOUND ? 404 : 500,
              rc == STORE_NOT_FOUND ? "not_found" : "internal", "no such certificate");
    return false;
}

void certs_get(api_call *c)
{
    store_cert cert;
    if (!load(c, &cert))
        return;
    api_json(c, 200, cert_json(&cert, true));
    store_cert_clear(&cert);
}

void certs_download(api_call *c)
{
    store_cert cert;
    if (!load(c, &cert))
        return;
    char fmt[16] = "pem";
    api_query(c, "format", fmt, sizeof fmt);
    store_ca ca;
    memset(&ca, 0, sizeof ca);
    bool need_ca = !strcmp(fmt, "chain") || !strcmp(fmt, "p7");
    if (need_ca && store_ca_get(c->st, 0, cert.ca_id, &ca) != STORE_OK) {
        api_error(c, 500, "internal", "cannot read the CA");
        store_cert_clear(&cert);
        return;
    }
    char disp[128];
    if (!strcmp(fmt, "pem")) {
        char *pem = certs_pem(cert.der, cert.der_len, "CERTIFICATE");
        httpd_respond(&c->resp, 200, "application/x-pem-file", pem, pem ? strlen(pem) : 0);
        free(pem);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.pem\"", cert.serial);
    } else if (!strcmp(fmt, "der")) {
        httpd_respond(&c->resp, 200, "application/pkix-cert", cert.der, cert.der_len);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.cer\"", cert.serial);
    } else if (!strcmp(fmt, "chain")) {
        char *pem = cert_chain_pem(&ca, cert.der, cert.der_len);
        httpd_respond(&c->resp, 200, "application/x-pem-file", pem, pem ? strlen(pem) : 0);
        free(pem);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-chain.pem\"", cert.serial);
    } else if (!strcmp(fmt, "p7")) {
        size_t n = 0, p7len = 0;
        uint8_t *all = concat(&ca, cert.der, cert.der_len, &n);
        uint8_t *p7 = all ? pkcs7_certs(all, n, &p7len) : NULL;
        if (p7)
            httpd_respond(&c->resp, 200, "application/pkcs7-mime", p7, p7len);
        else
            api_error(c, 500, "internal", "cannot build PKCS#7");
        free(all);
        free(p7);
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.p7b\"", cert.serial);
    } else {
        api_error(c, 400, "bad_query", "'format' is pem, der, chain or p7");
        disp[0] = '\0';
    }
    if (disp[0] && c->resp.status == 200)
        httpd_add_header(&c->resp, "Content-Disposition", disp);
    store_ca_clear(&ca);
    store_cert_clear(&cert);
}

void certs_revoke(api_call *c)
{
    store_cert cert;
    if (!load(c, &cert))
        return;
    const char *reason_name;
    if (!api_body_str(c, "reason", false, 32, &reason_name))
        goto done;
    int reason = reason_name ? cert_reason_from_name(reason_name) : 0;
    if (reason < 0 || reason == 8) {
        api_error(c, 400, "bad_reason",
                  "'reason' must be an RFC 5280 reason name (removeFromCRL is not a reason "
                  "to revoke)");
        goto done;
    }
    if (cert.revoked_at && cert.reason != 6) {
        api_error(c, 409, "already_revoked", "the certificate is revoked for good");
        goto done;
    }
    if (cert.revoked_at && reason == 6) {
        api_error(c, 409, "already_revoked", "the certificate is already on hold");
        goto done;
    }
    /* From hold to a final reason keeps the original revocation time (RFC 5280 5.3.2 idea:
     * the certificate has been unusable since then). */
    int64_t when = cert.revoked_at ? cert.revoked_at : c->now;
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
        goto done;
    }
    if (store_cert_set_revocation(c->st, cert.id, when, reason) != STORE_OK ||
        store_crl_mark_dirty(c->st, cert.ca_id) != STORE_OK ||
        store_crl_part_mark_cert_dirty(c->st, cert.id) != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot revoke");
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "certificate:%lld", (long long)cert.id);
    api_audit(c, "certificate.revoke", target, cert.ca_id,
              json_pack("{s:s,s:s}", "serial", cert.serial, "reason", cert_reason_name(reason)));
    if (store_commit(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot revoke");
        goto done;
    }
    certs_revocation_changed(c->app, c->st, cert.ca_id, cert.serial);
    cert.revoked_at = when;
    cert.reason = reason;
    api_json(c, 200, cert_json(&cert, false));
done:
    store_cert_clear(&cert);
}

void certs_unrevoke(api_call *c)
{
    store_cert cert;
    if (!load(c, &cert))
        return;
    if (!cert.revoked_at || cert.reason != 6) {
        api_error(c, 409, "not_on_hold",
                  "only a certificate on hold (certificateHold) can be unrevoked");
        goto done;
    }
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 503, "busy", "database busy");
        goto done;
    }
    if (store_cert_set_revocation(c->st, cert.id, 0, -1) != STORE_OK ||
        store_crl_mark_dirty(c->st, cert.ca_id) != STORE_OK ||
        store_crl_part_mark_cert_dirty(c->st, cert.id) != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot unrevoke");
        goto done;
    }
    char target[48];
    snprintf(target, sizeof target, "certificate:%lld", (long long)cert.id);
    api_audit(c, "certificate.unrevoke", target, cert.ca_id,
              json_pack("{s:s}", "serial", cert.serial));
    if (store_commit(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot unrevoke");
        goto done;
    }
    certs_revocation_changed(c->app, c->st, cert.ca_id, cert.serial);
    cert.revoked_at = 0;
    cert.reason = -1;
    api_json(c, 200, cert_json(&cert, false));
done:
    store_cert_clear(&cert);
}

void certs_revocation_changed(relay_app *app, store *st, int64_t ca_id, const char *serial)
{
    (void)st;
    ocsp_invalidate(app, ca_id, serial);
    crl_schedule(app, ca_id);
}
