/* Finalize (RFC 8555 7.4), certificate download (7.4.2) and revocation (7.6). The CSR must name
 * exactly the order's identifiers; the certificate comes from the policy's template through
 * the relay's one issuance path (relay/issue), so CRL and OCSP know it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "acme/acme_impl.h"
#include "keys/keys.h"
#include "log/log.h"
#include "pkix/pkix.h"
#include "util/encoding.h"

static int der_digest_hex(const uint8_t *der, size_t len, char out[65])
{
    uint8_t h[32];
    if (wc_Sha256Hash(der, (word32)len, h) != 0)
        return -1;
    char *hex = pki_hex_encode(h, sizeof h);
    if (!hex)
        return -1;
    snprintf(out, 65, "%s", hex);
    free(hex);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The CSR's DNS names (SAN, plus the CN when it is a name) must equal the order's set. */
static bool csr_matches(acme_req *r, const pki_csr *csr, json_t *ids, const char **names,
                        size_t *n_names)
{
    size_t n = 0;
    const size_t cap = 100;
    for (size_t i = 0; i < csr->ext.n_san; i++) {
        const pkix_general_name *g = &csr->ext.san[i];
        if (g->type != PKIX_GN_DNS) {
            acme_problem(r, 400, "badCSR", "the CSR may name DNS names only");
            return false;
        }
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup |= strcasecmp(names[k], g->text) == 0;
        if (!dup && n < cap)
            names[n++] = g->text;
    }
    /* A CN, when present, must be one of the names (RFC 8555 7.4: CSR identifiers). */
    const char *cn = csr->subject ? strstr(csr->subject, "CN=") : NULL;
    if (cn) {
        char cnv[256];
        size_t len = strcspn(cn + 3, ",+");
        snprintf(cnv, sizeof cnv, "%.*s", (int)(len < 255 ? len : 255), cn + 3);
        bool found = false;
        for (size_t k = 0; k < n; k++)
            found |= strcasecmp(names[k], cnv) == 0;
        if (!found) {
            acme_problem(r, 400, "badCSR", "the CSR's common name '%s' is not among its SANs", cnv);
            return false;
        }
    }
    if (n != json_array_size(ids)) {
        acme_problem(r, 400, "badCSR",
                     "the CSR names %zu DNS names, the order %zu: they must be the same", n,
                     json_array_size(ids));
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *want = json_string_value(json_object_get(v, "value"));
        bool found = false;
        for (size_t k = 0; k < n; k++)
            found |= strcasecmp(names[k], want) == 0;
        if (!found) {
            acme_problem(r, 400, "badCSR", "the CSR names something outside the order (not %s)",
                         want);
            return false;
        }
    }
    qsort(names, n, sizeof *names, cmp_str);
    *n_names = n;
    return true;
}

static void fail_order(acme_req *r, int64_t id, const char *type, const char *detail)
{
    json_t *p = acme_problem_json(type, 400, detail);
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    acme_order_set(r->st, id, "invalid", text, 0);
    free(text);
}

void acme_finalize(acme_req *r, int64_t id)
{
    acme_order o = {0};
    if (acme_order_refresh(r, id, &o) != STORE_OK || o.account_id != r->acct.id) {
        acme_order_clear(&o);
        acme_problem(r, 404, "malformed", "no such order for this account");
        return;
    }
    if (strcmp(o.status, "ready") != 0) {
        acme_problem(r, 403, "orderNotReady", "the order is %s, not ready", o.status);
        acme_order_clear(&o);
        return;
    }
    json_t *csr_v = r->payload ? json_object_get(r->payload, "csr") : NULL;
    const char *csr_b64 = json_string_value(csr_v);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (!csr_b64 || pki_base64url_decode(csr_b64, strlen(csr_b64), &der, &der_len) != 0) {
        acme_problem(r, 400, "malformed", "'csr' must be a base64url DER CSR");
        acme_order_clear(&o);
        return;
    }
    char err[256];
    pki_csr *csr = pki_csr_parse(der, der_len, err, sizeof err);
    json_error_t jerr;
    json_t *ids = json_loads(o.identifiers, 0, &jerr);
    const char *names[100];
    size_t n_names = 0;
    if (!csr) {
        acme_problem(r, 400, "badCSR", "%s", err);
    } else if (!ids || !csr_matches(r, csr, ids, names, &n_names)) {
        if (!ids)
            acme_problem(r, 500, "serverInternal", "order identifiers unreadable");
    } else if (csr->spki.len == r->jwk_spki_len &&
               memcmp(csr->spki.p, r->jwk_spki, r->jwk_spki_len) == 0) {
        acme_problem(r, 400, "badCSR", "the certificate key must not be the account key");
    } else if (acme_order_transition(r->st, id, "ready", "processing") != STORE_OK) {
        acme_problem(r, 403, "orderNotReady", "the order is being finalized already");
    } else {
        acme_policy pol;
        acme_cert c = {0};
        const char *ptype = "serverInternal";
        char detail[300] = "";
        int rc = -1;
        if (acme_policy_get(r->st, r->acct.policy_id, &pol) == STORE_OK) {
            rc = acme_issue(r, &pol, der, der_len, csr->spki.p, csr->spki.len, names, n_names, &c,
                            &ptype, detail, sizeof detail);
            acme_policy_clear(&pol);
        }
        if (rc == 0) {
            c.order_id = id;
            c.account_id = r->acct.id;
            if (der_digest_hex(c.der, c.der_len, c.digest) != 0 ||
                acme_cert_create(r->st, &c) != STORE_OK ||
                acme_order_set(r->st, id, "valid", NULL, c.id) != STORE_OK)
                rc = -1;
            else
                pki_info("acme: order %lld finalized, certificate %s", (long long)id, c.serial);
        }
        if (rc != 0) {
            fail_order(r, id, ptype, detail[0] ? detail : "issuance failed");
            acme_problem(r, strcmp(ptype, "serverInternal") == 0 ? 500 : 400, ptype, "%s",
                         detail[0] ? detail : "issuance failed");
        }
        acme_cert_clear(&c);
    }
    if (r->resp.status == 0) {
        acme_send_order(r, id);
        char loc[700];
        acme_url(loc, sizeof loc, "order/%lld", (long long)id);
        httpd_add_header(&r->resp, "Location", loc);
    }
    if (ids)
        json_decref(ids);
    pki_csr_free(csr);
    acme_order_clear(&o);
    free(der);
}

void acme_cert_post(acme_req *r, int64_t id)
{
    acme_cert c;
    if (acme_cert_get(r->st, id, &c) != STORE_OK || c.account_id != r->acct.id) {
        acme_problem(r, 404, "malformed", "no such certificate for this account");
        return;
    }
    httpd_respond(&r->resp, 200, "application/pem-certificate-chain", c.chain_pem,
                  strlen(c.chain_pem));
    acme_add_common_headers(r);
    acme_cert_clear(&c);
}

void acme_revoke(acme_req *r)
{
    const char *b64 =
        r->payload ? json_string_value(json_object_get(r->payload, "certificate")) : NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (!b64 || pki_base64url_decode(b64, strlen(b64), &der, &der_len) != 0) {
        acme_problem(r, 400, "malformed", "'certificate' must be base64url DER");
        return;
    }
    json_t *reason_v = json_object_get(r->payload, "reason");
    int reason = 0;
    if (reason_v) {
        json_int_t v = json_is_integer(reason_v) ? json_integer_value(reason_v) : -1;
        /* RFC 5280 5.3.1: 0..10 without 7; certificateHold is not offered over ACME. */
        if (v < 0 || v > 10 || v == 7 || v == 6) {
            acme_problem(r, 400, "badRevocationReason", "reason %lld is not allowed", (long long)v);
            free(der);
            return;
        }
        reason = (int)v;
    }
    char digest[65];
    acme_cert c = {0};
    char err[256];
    pki_cert *pc = pki_cert_parse(der, der_len, err, sizeof err);
    if (!pc || der_digest_hex(der, der_len, digest) != 0) {
        acme_problem(r, 400, "malformed", "certificate: %s", pc ? "cannot hash" : err);
    } else if (acme_cert_get_by_digest(r->st, digest, &c) != STORE_OK) {
        acme_problem(r, 404, "malformed", "this server did not issue that certificate");
    } else if (r->acct.id ? c.account_id != r->acct.id
                          : (pc->spki.len != r->jwk_spki_len ||
                             memcmp(pc->spki.p, r->jwk_spki, r->jwk_spki_len) != 0)) {
        acme_problem(r, 403, "unauthorized",
                     r->acct.id ? "the certificate was issued to another account"
                                : "the JWS is not signed by the certificate's key");
    } else if (c.revoked_at) {
        acme_problem(r, 400, "alreadyRevoked", "the certificate is already revoked");
    } else if (acme_cert_revoke(r->st, c.id, r->now, reason) != STORE_OK ||
               (c.relay_cert_id &&
                store_cert_set_revocation(r->st, c.relay_cert_id, r->now, reason) != STORE_OK)) {
        acme_problem(r, 500, "serverInternal", "cannot record the revocation");
    } else {
        pki_info("acme: certificate %s revoked (reason %d) by %s", c.serial, reason,
                 r->acct.id ? "its account" : "its key");
        httpd_respond(&r->resp, 200, "application/json", "", 0);
        acme_add_common_headers(r);
    }
    acme_cert_clear(&c);
    pki_cert_free(pc);
    free(der);
}
