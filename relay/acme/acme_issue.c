/* The bridge from a finalized ACME order to the relay's issuance: the policy's template and
 * its CA, then relay/issue's issue_certificate (the single place certificates are made), and
 * the PEM chain clients download. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_impl.h"
#include "ca/ca.h"
#include "issue/issue.h"
#include "keys/keys.h"
#include "log/log.h"
#include "templates/templates.h"

/* Appends one DER certificate as PEM to *pem. */
static int append_pem(char **pem, size_t *len, const uint8_t *der, size_t der_len)
{
    char *block = NULL;
    size_t bl = 0;
    if (pki_pem_encode("CERTIFICATE", der, der_len, &block, &bl) != 0)
        return -1;
    char *t = realloc(*pem, *len + bl + 1);
    if (!t) {
        free(block);
        return -1;
    }
    memcpy(t + *len, block, bl);
    *len += bl;
    t[*len] = 0;
    *pem = t;
    free(block);
    return 0;
}

/* Length of the DER element at p (tag + length + content), 0 when malformed. */
static size_t der_element_len(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t l = p[1], hdr = 2;
    if (l & 0x80) {
        size_t k = l & 0x7f;
        if (k == 0 || k > 4 || n < 2 + k)
            return 0;
        l = 0;
        for (size_t i = 0; i < k; i++)
            l = (l << 8) | p[2 + i];
        hdr += k;
    }
    return hdr + l <= n ? hdr + l : 0;
}

static char *chain_pem(const store_cert *leaf, const store_ca *ca)
{
    char *pem = NULL;
    size_t len = 0;
    if (append_pem(&pem, &len, leaf->der, leaf->der_len) != 0 ||
        append_pem(&pem, &len, ca->cert_der, ca->cert_len) != 0) {
        free(pem);
        return NULL;
    }
    /* chain_der: the certificates above the CA, issuer first, concatenated. */
    for (size_t o = 0; ca->chain_der && o < ca->chain_len;) {
        size_t el = der_element_len(ca->chain_der + o, ca->chain_len - o);
        if (el == 0 || append_pem(&pem, &len, ca->chain_der + o, el) != 0)
            break;
        o += el;
    }
    return pem;
}

int acme_issue(acme_req *r, const acme_policy *pol, const uint8_t *csr_der, size_t csr_len,
               const uint8_t *spki, size_t spki_len, const char *const *names, size_t n_names,
               acme_cert *out, const char **ptype, char *detail, size_t detail_len)
{
    (void)csr_der;
    (void)csr_len;
    *ptype = "serverInternal";
    store_template trow = {0};
    store_ca ca = {0};
    tpl_settings tpl;
    int rc = -1;
    char err[300];
    if (store_template_get(r->st, 0, pol->template_id, &trow) != STORE_OK ||
        tpl_parse_stored(&tpl, trow.settings) != 0) {
        snprintf(detail, detail_len, "the policy's template no longer exists");
        goto out;
    }
    if (!tpl.enabled) {
        snprintf(detail, detail_len, "the policy's template is disabled");
        goto out;
    }
    if (store_ca_get(r->st, 0, trow.ca_id, &ca) != STORE_OK) {
        snprintf(detail, detail_len, "the template's CA no longer exists");
        goto out;
    }
    pki_signer *signer = ca_signer(r->app, &ca, err, sizeof err);
    if (!signer) {
        snprintf(detail, detail_len, "the CA cannot sign now: %s", err);
        goto out;
    }
    /* The first name that is not a wildcard makes the common name (clients ignore it; some
     * software still reads it). */
    const char *cn = names[0];
    for (size_t i = 0; i < n_names; i++)
        if (strncmp(names[i], "*.", 2) != 0) {
            cn = names[i];
            break;
        }
    char subject[300];
    snprintf(subject, sizeof subject, "CN=%s", cn);
    char sanbuf[ISSUE_MAX_SANS][270];
    const char *sans[ISSUE_MAX_SANS];
    size_t n = n_names < ISSUE_MAX_SANS ? n_names : ISSUE_MAX_SANS;
    for (size_t i = 0; i < n; i++) {
        snprintf(sanbuf[i], sizeof sanbuf[i], "DNS:%s", names[i]);
        sans[i] = sanbuf[i];
    }
    issue_params p = {0};
    p.subject = subject;
    p.sans = sans;
    p.n_sans = n;
    p.spki = spki;
    p.spki_len = spki_len;
    p.not_before = r->now;
    p.not_after = r->now + (int64_t)(tpl.validity_days > 0 ? tpl.validity_days : 90) * 86400;
    p.template_id = trow.id;
    store_cert c = {0};
    int status = 500;
    if (issue_certificate(r->app, r->st, &ca, signer, &tpl, &p, &c, &status, err, sizeof err) !=
        0) {
        *ptype = status == 400 ? "badCSR" : "serverInternal";
        snprintf(detail, detail_len, "%s", err);
        goto out;
    }
    memset(out, 0, sizeof *out);
    out->der = c.der;
    out->der_len = c.der_len;
    c.der = NULL;
    out->chain_pem = chain_pem(&(store_cert){.der = out->der, .der_len = out->der_len}, &ca);
    snprintf(out->serial, sizeof out->serial, "%s", c.serial);
    out->relay_cert_id = c.id;
    store_cert_clear(&c);
    if (!out->chain_pem) {
        snprintf(detail, detail_len, "cannot encode the chain");
        acme_cert_clear(out);
        goto out;
    }
    rc = 0;
out:
    store_template_clear(&trow);
    store_ca_clear(&ca);
    return rc;
}
