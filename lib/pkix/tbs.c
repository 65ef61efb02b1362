/* What a to-be-signed structure is: the facts a signer's local policy decides on. Each kind is
 * tried with a strict reader; the shapes do not overlap, so at most one accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkix/pkix_impl.h"

const char *pki_tbs_kind_name(pki_tbs_kind k)
{
    switch (k) {
    case PKI_TBS_CERTIFICATE:
        return "certificate";
    case PKI_TBS_CRL:
        return "crl";
    case PKI_TBS_OCSP_RESPONSE:
        return "ocsp-response";
    case PKI_TBS_CSR:
        return "csr";
    case PKI_TBS_CMS_ATTRS:
        return "cms-signed-attributes";
    default:
        return "unknown";
    }
}

static int try_certificate(const pki_der_item *top, pki_tbs_info *out)
{
    pki_cert c;
    pki_span inner;
    memset(&c, 0, sizeof c);
    c.ext.path_len = -1;
    int rc = pkix_cert_read_tbs(&c, top, &inner, NULL, 0);
    if (rc == 0) {
        out->kind = PKI_TBS_CERTIFICATE;
        if (pki_sig_alg_from_der(inner.p, inner.len, &out->sig_alg) != 0)
            out->sig_alg = 0;
        out->issuer_der = c.issuer_der;
        out->subject_der = c.subject_der;
        out->serial = c.serial;
        out->spki = c.spki;
        out->not_before = c.not_before;
        out->not_after = c.not_after;
        out->is_ca = c.ext.has_basic_constraints && c.ext.is_ca;
    }
    free(c.issuer);
    free(c.subject);
    pkix_extensions_clear(&c.ext);
    return rc;
}

static int try_csr(const pki_der_item *top, pki_tbs_info *out)
{
    pki_csr c;
    memset(&c, 0, sizeof c);
    c.ext.path_len = -1;
    int rc = pkix_csr_read_info(&c, top, NULL, 0);
    if (rc == 0) {
        out->kind = PKI_TBS_CSR;
        out->subject_der = c.subject_der;
        out->spki = c.spki;
    }
    free(c.subject);
    if (c.challenge) {
        explicit_bzero(c.challenge, strlen(c.challenge));
        free(c.challenge);
    }
    pkix_extensions_clear(&c.ext);
    return rc;
}

/* TBSCertList header only: the entries are not walked (a million-entry CRL is signed as is). */
static int try_crl(const pki_der_item *top, pki_tbs_info *out)
{
    pki_der tbs;
    pki_der_item it, alg, issuer, tu;
    pki_der_enter(top, &tbs);
    long v;
    int v2 = 0;
    if (pki_der_optional(&tbs, PKI_DER_INTEGER, &it) == 0) {
        if (pki_der_int_long(&it, &v) != 0 || v != 1)
            return -1;
        v2 = 1;
    }
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &alg) != 0 ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &issuer) != 0 || pki_der_next(&tbs, &tu) != 0 ||
        pki_der_time(&tu, &out->not_before) != 0)
        return -1;
    int t = pki_der_peek_tag(&tbs);
    if ((t == PKI_DER_UTC_TIME || t == PKI_DER_GENERALIZED_TIME) &&
        (pki_der_next(&tbs, &it) != 0 || pki_der_time(&it, &out->not_after) != 0))
        return -1;
    if (pki_der_optional(&tbs, PKI_DER_SEQUENCE, &it) < 0)
        return -1;
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) == 0 && !v2)
        return -1;
    if (!pki_der_at_end(&tbs))
        return -1;
    char *name = pki_name_to_text(issuer.raw, issuer.raw_len);
    if (!name)
        return -1;
    free(name);
    out->kind = PKI_TBS_CRL;
    if (pki_sig_alg_from_der(alg.raw, alg.raw_len, &out->sig_alg) != 0)
        out->sig_alg = 0;
    out->issuer_der = pkix_span(issuer.raw, issuer.raw_len);
    return 0;
}

static int try_ocsp(const pki_der_item *top, pki_tbs_info *out)
{
    pki_der rd, in, list;
    pki_der_item it, rid, produced, responses, inner;
    pki_der_enter(top, &rd);
    if (pki_der_optional(&rd, PKI_DER_CTX_CONS(0), &it) == 0) {
        long v;
        pki_der_enter(&it, &in);
        if (pki_der_expect(&in, PKI_DER_INTEGER, &it) != 0 || pki_der_int_long(&it, &v) != 0 ||
            v != 0 || !pki_der_at_end(&in))
            return -1;
    }
    if (pki_der_next(&rd, &rid) != 0 || pki_der_enter(&rid, &in) != 0 ||
        pki_der_next(&in, &inner) != 0 || !pki_der_at_end(&in))
        return -1;
    if (rid.tag == PKI_DER_CTX_CONS(1) && inner.tag == PKI_DER_SEQUENCE) {
        char *name = pki_name_to_text(inner.raw, inner.raw_len);
        if (!name)
            return -1;
        free(name);
        out->responder_name_der = pkix_span(inner.raw, inner.raw_len);
    } else if (rid.tag == PKI_DER_CTX_CONS(2) && inner.tag == PKI_DER_OCTET_STRING &&
               inner.len == 20)
        out->responder_key_hash = pkix_span(inner.val, inner.len);
    else
        return -1;
    int64_t t;
    if (pki_der_expect(&rd, PKI_DER_GENERALIZED_TIME, &produced) != 0 ||
        pki_der_time(&produced, &t) != 0 || pki_der_expect(&rd, PKI_DER_SEQUENCE, &responses) != 0)
        return -1;
    pki_der_enter(&responses, &list);
    size_t n = 0;
    int rc;
    while ((rc = pki_der_next(&list, &it)) == 0) {
        if (it.tag != PKI_DER_SEQUENCE)
            return -1;
        n++;
    }
    if (rc < 0 || n == 0)
        return -1;
    if (pki_der_optional(&rd, PKI_DER_CTX_CONS(1), &it) < 0 || !pki_der_at_end(&rd))
        return -1;
    out->kind = PKI_TBS_OCSP_RESPONSE;
    out->ocsp_responses = n;
    return 0;
}

/* signedAttrs as signed: SET OF Attribute { OID, SET OF ANY }. */
static int try_cms_attrs(const pki_der_item *top, pki_tbs_info *out)
{
    pki_der set, attr;
    pki_der_item it, oid, vals;
    pki_der_enter(top, &set);
    int rc, n = 0;
    while ((rc = pki_der_next(&set, &it)) == 0) {
        if (it.tag != PKI_DER_SEQUENCE || pki_der_enter(&it, &attr) != 0 ||
            pki_der_expect(&attr, PKI_DER_OID, &oid) != 0 ||
            pki_der_expect(&attr, PKI_DER_SET, &vals) != 0 || !pki_der_at_end(&attr))
            return -1;
        n++;
    }
    if (rc < 0 || n == 0)
        return -1;
    out->kind = PKI_TBS_CMS_ATTRS;
    return 0;
}

int pki_tbs_inspect(const uint8_t *tbs, size_t len, pki_tbs_info *out, char *err, size_t errlen)
{
    pki_der_item top;
    if (!out) {
        pkix_errf(err, errlen, "no output");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (!tbs || pki_der_single(tbs, len, &top) != 0) {
        pkix_errf(err, errlen, "to-be-signed data is not one DER element");
        return -1;
    }
    if (top.tag == PKI_DER_SET) {
        if (try_cms_attrs(&top, out) == 0)
            return 0;
    } else if (top.tag == PKI_DER_SEQUENCE) {
        /* Each try leaves out zeroed or fully set; a failed try may have set a field. */
        if (try_certificate(&top, out) == 0)
            return 0;
        memset(out, 0, sizeof *out);
        if (try_crl(&top, out) == 0)
            return 0;
        memset(out, 0, sizeof *out);
        if (try_csr(&top, out) == 0)
            return 0;
        memset(out, 0, sizeof *out);
        if (try_ocsp(&top, out) == 0)
            return 0;
        memset(out, 0, sizeof *out);
    }
    pkix_errf(err, errlen,
              "not a to-be-signed structure we know (TBSCertificate, TBSCertList, "
              "OCSP ResponseData, CertificationRequestInfo, CMS signedAttrs)");
    return -1;
}
