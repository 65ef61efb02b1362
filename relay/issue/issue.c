/* Certificate issuance on lib/x509 (this file includes no pkix parser headers: the two share
 * names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issue/issue.h"
#include "link/link_server.h"
#include "log/log.h"
#include "store/store_crl_part.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "x509/x509.h"

void issue_ca_urls(const relay_app *app, int64_t ca_id, char *cert, char *crl, char *ocsp,
                   char *cps, size_t cap)
{
    if (cert)
        snprintf(cert, cap, "%s/pki/ca/%lld/cert", app->public_base_url, (long long)ca_id);
    if (crl)
        snprintf(crl, cap, "%s/pki/ca/%lld/crl", app->public_base_url, (long long)ca_id);
    if (ocsp)
        snprintf(ocsp, cap, "%s/pki/ca/%lld/ocsp", app->public_base_url, (long long)ca_id);
    if (cps)
        snprintf(cps, cap, "%s/pki/ca/%lld/cps", app->base_url, (long long)ca_id);
}

void issue_crl_part_url(const relay_app *app, int64_t ca_id, int64_t part, char *url, size_t cap)
{
    snprintf(url, cap, "%s/pki/ca/%lld/crl/%lld.crl", app->public_base_url, (long long)ca_id,
             (long long)part);
}

int issue_validity(int64_t now, int days, const char *start, const char *end, int64_t *nb,
                   int64_t *na, char *err, size_t errlen)
{
    *nb = now;
    if (start && pki_time_from_rfc3339(start, nb) != 0) {
        snprintf(err, errlen, "'not_before' must be an RFC 3339 time");
        return -1;
    }
    if (end) {
        if (pki_time_from_rfc3339(end, na) != 0) {
            snprintf(err, errlen, "'not_after' must be an RFC 3339 time");
            return -1;
        }
    } else {
        *na = *nb + (int64_t)days * 86400;
    }
    if (*na <= *nb) {
        snprintf(err, errlen, "the validity ends before it starts");
        return -1;
    }
    if (*na <= now) {
        snprintf(err, errlen, "the validity ends in the past");
        return -1;
    }
    return 0;
}

static int parse_san(const char *s, pki_general_name *gn, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        pki_gn_type type;
    } kinds[] = {{"DNS:", PKI_GN_DNS},
                 {"IP:", PKI_GN_IP},
                 {"email:", PKI_GN_EMAIL},
                 {"URI:", PKI_GN_URI},
                 {"UPN:", PKI_GN_UPN}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(s, kinds[i].prefix, n) == 0) {
            gn->type = kinds[i].type;
            gn->value = s + n;
            char why[160];
            if (pki_general_name_check(gn, why, sizeof why) != 0) {
                snprintf(err, errlen, "subject alternative name '%s': %s", s, why);
                return -1;
            }
            return 0;
        }
    }
    snprintf(err, errlen,
             "subject alternative name '%s' must start with DNS:, IP:, email:, URI: "
             "or UPN:",
             s);
    return -1;
}

const char *issue_error_code(const char *err, const char *fallback)
{
    const char *code = fallback;
    int sign = relay_link_sign_status_of(err);
    if (sign)
        relay_link_sign_http(sign, &code);
    return code;
}

/* Draws a random serial into serial (t's), builds and signs t, and fills out from it. */
static int sign_with_serial(pki_cert_template *t, uint8_t serial[PKI_SERIAL_RANDOM_LEN],
                            const pki_issuer *issuer, pki_signer *ca_signer, const store_ca *ca,
                            const tpl_settings *tpl, const issue_params *p, store_cert *out,
                            int *status, char *err, size_t errlen)
{
    if (pki_serial_random(serial) != 0) {
        *status = 500;
        snprintf(err, errlen, "no randomness for the serial number");
        return -1;
    }
    char why[200];
    uint8_t *der = NULL;
    size_t len = 0;
    int brc = pki_cert_build_sync(t, issuer, ca_signer, &der, &len, why, sizeof why);
    if (brc != 0) {
        /* An appliance-backed signer's failure keeps its own status (503 offline, …). */
        int sign = relay_link_sign_status_of(why);
        *status = brc == PKI_X509_ERR_INPUT || brc == PKI_X509_ERR_LINT ? 400
                  : sign ? relay_link_sign_http(sign, NULL)
                         : 500;
        snprintf(err, errlen, "%s", why[0] ? why : pki_sign_status_text(brc));
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->ca_id = ca->id;
    out->template_id = p->template_id;
    out->request_id = p->request_id;
    snprintf(out->kind, sizeof out->kind, "%s",
             p->kind               ? p->kind
             : (tpl && tpl->is_ca) ? "ca"
                                   : "leaf");
    char *hex = pki_hex_encode(serial, PKI_SERIAL_RANDOM_LEN);
    snprintf(out->serial, sizeof out->serial, "%s", hex ? hex : "");
    free(hex);
    if (pki_name_format(&t->subject, PKI_NAME_RFC4514, out->subject, sizeof out->subject) != 0)
        snprintf(out->subject, sizeof out->subject, "%s", p->subject);
    out->not_before = t->not_before;
    out->not_after = t->not_after;
    out->der = der;
    out->der_len = len;
    out->created = pki_now();
    return 0;
}

int issue_sign(relay_app *app, store *st, const store_ca *ca, pki_signer *ca_signer,
               const tpl_settings *tpl, const issue_params *p, store_cert *out,
               int64_t *crl_part_out, int *status, char *err, size_t errlen)
{
    *status = 400;
    if (strcmp(ca->status, "active") != 0 || !ca->cert_der) {
        snprintf(err, errlen, "the CA is not active (its certificate was not imported yet)");
        return -1;
    }
    if (p->n_sans > ISSUE_MAX_SANS) {
        snprintf(err, errlen, "at most %d subject alternative names", ISSUE_MAX_SANS);
        return -1;
    }
    pki_cert_template t;
    pki_cert_template_init(&t);
    char why[200];
    if (pki_name_parse(&t.subject, p->subject ? p->subject : "", why, sizeof why) != 0) {
        snprintf(err, errlen, "subject: %s", why);
        return -1;
    }
    pki_general_name gns[ISSUE_MAX_SANS];
    for (size_t i = 0; i < p->n_sans; i++)
        if (parse_san(p->sans[i], &gns[i], err, errlen) != 0)
            return -1;
    t.san = gns;
    t.san_count = p->n_sans;
    t.spki = p->spki;
    t.spki_len = p->spki_len;
    t.not_before = p->not_before;
    t.not_after = p->not_after;
    uint8_t serial[PKI_SERIAL_RANDOM_LEN];
    t.serial = serial;
    t.serial_len = sizeof serial;

    char cert_url[640], crl_url[640], ocsp_url[640], cps_url[640];
    issue_ca_urls(app, ca->id, cert_url, crl_url, ocsp_url, cps_url, sizeof cert_url);
    const char *aia_issuer[1], *aia_ocsp[1], *cdp[1];
    int64_t crl_part = -1;
    const char *eku[TPL_MAX_EKU + 1];
    pki_policy pol;
    if (tpl) {
        t.is_ca = tpl->is_ca;
        t.path_len = tpl->is_ca ? tpl->path_len : -1;
        t.key_usage = tpl->key_usage;
        for (int i = 0; i < tpl->n_eku; i++)
            eku[i] = tpl->eku[i];
        t.eku = eku;
        t.eku_count = (size_t)tpl->n_eku;
        if (tpl->include_aia) {
            aia_issuer[0] = tpl->aia_issuer_url[0] ? tpl->aia_issuer_url : cert_url;
            t.ca_issuer_urls = aia_issuer;
            t.ca_issuer_url_count = 1;
        }
        if (tpl->include_ocsp) {
            aia_ocsp[0] = ocsp_url;
            t.ocsp_urls = aia_ocsp;
            t.ocsp_url_count = 1;
        }
        if (tpl->include_cdp) {
            /* A partitioned CA points each certificate at its own partition's CRL. */
            if (store_crl_part_assign(st, ca->id, &crl_part) != STORE_OK) {
                *status = 500;
                snprintf(err, errlen, "cannot assign a CRL partition");
                return -1;
            }
            if (crl_part >= 0)
                issue_crl_part_url(app, ca->id, crl_part, crl_url, sizeof crl_url);
            cdp[0] = crl_url;
            t.crl_urls = cdp;
            t.crl_url_count = 1;
        }
        if (tpl->include_policies) {
            pol.oid = tpl->policy_oid;
            pol.cps_uri = tpl->cps_url[0] ? tpl->cps_url : cps_url;
            t.policies = &pol;
            t.policy_count = 1;
        }
        if (tpl->sig_alg[0]) {
            pki_sig_alg alg;
            if (pki_sig_alg_from_name(tpl->sig_alg, &alg) != 0 ||
                !pki_sig_alg_fits_key(alg, ca_signer->key_type)) {
                snprintf(err, errlen,
                         "the template's signature algorithm %s does not fit the "
                         "CA's key",
                         tpl->sig_alg);
                return -1;
            }
            t.sig_alg = alg;
        }
    }
    if (p->ocsp_signing) {
        static const char *const ocsp_eku[] = {"OCSPSigning"};
        t.eku = ocsp_eku;
        t.eku_count = 1;
        t.key_usage = PKI_KU_DIGITAL_SIGNATURE;
        t.ocsp_nocheck = 1;
    }
    if (!t.sig_alg) {
        pki_sig_alg alg;
        if (pki_sig_alg_from_name(ca->sig_alg, &alg) == 0)
            t.sig_alg = alg;
    }
    pki_issuer issuer;
    memset(&issuer, 0, sizeof issuer);
    if (pki_issuer_from_cert(&issuer, ca->cert_der, ca->cert_len, why, sizeof why) != 0) {
        *status = 500;
        snprintf(err, errlen, "the CA certificate is unusable: %s", why);
        return -1;
    }
    /* A certificate never outlives its CA: a validity from days is shortened to the CA's end;
     * an explicit end date past it is refused. */
    if (t.not_after > issuer.not_after) {
        if (p->explicit_end) {
            char end[40] = "";
            pki_time_to_rfc3339(issuer.not_after, end, sizeof end);
            snprintf(err, errlen, "the validity ends after the CA certificate does (%s)", end);
            pki_issuer_free(&issuer);
            return -1;
        }
        t.not_after = issuer.not_after;
    }
    *crl_part_out = crl_part;
    int rc = sign_with_serial(&t, serial, &issuer, ca_signer, ca, tpl, p, out, status, err, errlen);
    pki_issuer_free(&issuer);
    return rc;
}

int issue_store(store *st, store_cert *cert, int64_t crl_part, int *status, char *err,
                size_t errlen)
{
    int src = crl_part >= 0 ? store_crl_part_cert_create(st, cert, crl_part)
                            : store_cert_create(st, cert);
    if (src == STORE_OK)
        return 0;
    *status = 500;
    snprintf(err, errlen, "%s",
             src == STORE_CONFLICT ? "the serial number is taken; try again"
                                   : "cannot store the certificate");
    return src == STORE_CONFLICT ? 1 : -1;
}

int issue_certificate(relay_app *app, store *st, const store_ca *ca, pki_signer *ca_signer,
                      const tpl_settings *tpl, const issue_params *p, store_cert *out, int *status,
                      char *err, size_t errlen)
{
    /* A random 127-bit serial collides practically never; the UNIQUE constraint makes sure. */
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t crl_part;
        if (issue_sign(app, st, ca, ca_signer, tpl, p, out, &crl_part, status, err, errlen) != 0)
            return -1;
        int rc = issue_store(st, out, crl_part, status, err, errlen);
        if (rc == 0)
            return 0;
        store_cert_clear(out);
        if (rc < 0)
            return -1;
    }
    return -1;
}
