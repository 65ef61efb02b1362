/* CRL parser (RFC 5280 section 5). Entries are read with no per-entry allocation, so a CRL with
 * a million entries costs one growing array. */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "pkix/pkix_impl.h"

static const char *const CRL_LABELS[] = {"X509 CRL", NULL};

void pki_crl_free(pki_crl *c)
{
    if (!c)
        return;
    free(c->issuer);
    free(c->entries);
    pkix_extensions_clear(&c->ext);
    free(c->priv);
    free(c);
}

/* crlEntryExtensions: reasonCode and invalidityDate decoded, others checked for shape only;
 * a critical extension we do not understand makes the entry (and so the CRL) unusable. */
static int entry_extensions(const pki_der_item *seq, pki_crl_revoked *e)
{
    pki_der in, ext;
    pki_der_item item, oid, crit, val, inner;
    if (seq->tag != PKI_DER_SEQUENCE || pki_der_enter(seq, &in) != 0)
        return -1;
    int rc, seen_reason = 0, seen_inv = 0;
    while ((rc = pki_der_next(&in, &item)) == 0) {
        int critical = 0;
        if (item.tag != PKI_DER_SEQUENCE || pki_der_enter(&item, &ext) != 0 ||
            pki_der_expect(&ext, PKI_DER_OID, &oid) != 0 ||
            (pki_der_optional(&ext, PKI_DER_BOOLEAN, &crit) == 0 &&
             pki_der_boolean(&crit, &critical) != 0) ||
            pki_der_expect(&ext, PKI_DER_OCTET_STRING, &val) != 0 || !pki_der_at_end(&ext))
            return -1;
        if (pki_der_oid_is(&oid, "2.5.29.21")) {
            long reason;
            if (seen_reason++ || pki_der_single(val.val, val.len, &inner) != 0 ||
                inner.tag != PKI_DER_ENUMERATED || pki_der_int_long(&inner, &reason) != 0 ||
                reason < 0 || reason > 10 || reason == 7)
                return -1;
            e->reason = (int)reason;
        } else if (pki_der_oid_is(&oid, "2.5.29.24")) {
            if (seen_inv++ || pki_der_single(val.val, val.len, &inner) != 0 ||
                inner.tag != PKI_DER_GENERALIZED_TIME ||
                pki_der_time(&inner, &e->invalidity_date) != 0)
                return -1;
        } else if (critical)
            return -1; /* e.g. certificateIssuer: indirect CRLs are not supported */
    }
    return rc < 0 ? -1 : 0;
}

static int read_entries(pki_crl *c, const pki_der_item *list_it, char *err, size_t errlen)
{
    pki_der list, ent;
    pki_der_item item, serial, date, exts;
    size_t cap = 0;
    pki_der_enter(list_it, &list);
    int rc;
    while ((rc = pki_der_next(&list, &item)) == 0) {
        if (c->count == PKI_PKIX_MAX_CRL_ENTRIES) {
            pkix_errf(err, errlen, "CRL: more than %d entries", PKI_PKIX_MAX_CRL_ENTRIES);
            return -1;
        }
        if (c->count == cap) {
            cap = cap ? cap * 2 : 64;
            pki_crl_revoked *n = realloc(c->entries, cap * sizeof *n);
            if (!n) {
                pkix_errf(err, errlen, "out of memory");
                return -1;
            }
            c->entries = n;
        }
        pki_crl_revoked *e = &c->entries[c->count];
        memset(e, 0, sizeof *e);
        e->reason = -1;
        if (item.tag != PKI_DER_SEQUENCE || pki_der_enter(&item, &ent) != 0 ||
            pki_der_expect(&ent, PKI_DER_INTEGER, &serial) != 0 ||
            pki_der_int_unsigned_bytes(&serial, &e->serial.p, &e->serial.len) != 0 ||
            pki_der_next(&ent, &date) != 0 || pki_der_time(&date, &e->revocation_date) != 0) {
            pkix_errf(err, errlen, "CRL: malformed entry %zu", c->count + 1);
            return -1;
        }
        rc = pki_der_next(&ent, &exts);
        if (rc < 0 || (rc == 0 && (c->version != 2 || entry_extensions(&exts, e) != 0)) ||
            !pki_der_at_end(&ent)) {
            pkix_errf(err, errlen, "CRL: malformed extensions in entry %zu", c->count + 1);
            return -1;
        }
        c->count++;
    }
    if (rc < 0 || c->count == 0) { /* RFC 5280: omit the list rather than leave it empty */
        pkix_errf(err, errlen, "CRL: malformed revokedCertificates");
        return -1;
    }
    return 0;
}

static int read_crl_extensions(pki_crl *c, const pki_der_item *wrap, char *err, size_t errlen)
{
    pki_der in;
    pki_der_item exts, n;
    char why[128];
    pki_der_enter(wrap, &in);
    if (c->version != 2 || pki_der_next(&in, &exts) != 0 || !pki_der_at_end(&in)) {
        pkix_errf(err, errlen, "CRL: malformed crlExtensions");
        return -1;
    }
    if (pkix_extensions_parse(&exts, &c->ext, why, sizeof why) != 0) {
        pkix_errf(err, errlen, "CRL: %s", why);
        return -1;
    }
    const pki_extension *num = pki_extensions_find(&c->ext, "2.5.29.20");
    if (num) {
        if (pki_der_single(num->value.p, num->value.len, &n) != 0 ||
            pki_der_int_unsigned_bytes(&n, &c->crl_number.p, &c->crl_number.len) != 0 ||
            c->crl_number.len > 20) {
            pkix_errf(err, errlen, "CRL: malformed cRLNumber");
            return -1;
        }
        c->has_crl_number = 1;
    }
    c->is_delta = pki_extensions_find(&c->ext, "2.5.29.27") != NULL;
    return 0;
}

static int read_tbs(pki_crl *c, const pki_der_item *tbs_it, pki_span *inner_alg, char *err,
                    size_t errlen)
{
    pki_der tbs;
    pki_der_item it, alg, issuer, tu;
    pki_der_enter(tbs_it, &tbs);
    c->version = 1;
    if (pki_der_optional(&tbs, PKI_DER_INTEGER, &it) == 0) {
        long v;
        if (pki_der_int_long(&it, &v) != 0 || v != 1) {
            pkix_errf(err, errlen, "CRL: unsupported version");
            return -1;
        }
        c->version = 2;
    }
    if (pki_der_expect(&tbs, PKI_DER_SEQUENCE, &alg) != 0 ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &issuer) != 0 || pki_der_next(&tbs, &tu) != 0 ||
        pki_der_time(&tu, &c->this_update) != 0) {
        pkix_errf(err, errlen, "CRL: malformed TBSCertList");
        return -1;
    }
    *inner_alg = pkix_span(alg.raw, alg.raw_len);
    c->issuer_der = pkix_span(issuer.raw, issuer.raw_len);
    c->issuer = pki_name_to_text(issuer.raw, issuer.raw_len);
    if (!c->issuer) {
        pkix_errf(err, errlen, "CRL: malformed issuer name");
        return -1;
    }
    int t = pki_der_peek_tag(&tbs);
    if (t == PKI_DER_UTC_TIME || t == PKI_DER_GENERALIZED_TIME) {
        if (pki_der_next(&tbs, &it) != 0 || pki_der_time(&it, &c->next_update) != 0) {
            pkix_errf(err, errlen, "CRL: malformed nextUpdate");
            return -1;
        }
    }
    if (pki_der_optional(&tbs, PKI_DER_SEQUENCE, &it) == 0 &&
        read_entries(c, &it, err, errlen) != 0)
        return -1;
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) == 0 &&
        read_crl_extensions(c, &it, err, errlen) != 0)
        return -1;
    if (!pki_der_at_end(&tbs)) {
        pkix_errf(err, errlen, "CRL: malformed TBSCertList (trailing data)");
        return -1;
    }
    return 0;
}

pki_crl *pki_crl_parse(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pki_crl *c = calloc(1, sizeof *c);
    if (!c) {
        pkix_errf(err, errlen, "out of memory");
        return NULL;
    }
    c->ext.path_len = -1;
    pki_der_item tbs, alg;
    pki_span inner_alg;
    if (pkix_begin(data, len, CRL_LABELS, "CRL", "CertificateList", &c->priv, &c->der, &tbs, &alg,
                   &c->signature, err, errlen) != 0)
        goto fail;
    c->tbs = pkix_span(tbs.raw, tbs.raw_len);
    if (read_tbs(c, &tbs, &inner_alg, err, errlen) != 0 ||
        pkix_same_alg(&inner_alg, &alg, "CRL", err, errlen) != 0)
        goto fail;
    if (pki_sig_alg_from_der(alg.raw, alg.raw_len, &c->sig_alg) != 0)
        c->sig_alg = 0;
    return c;
fail:
    pki_crl_free(c);
    return NULL;
}

int pki_crl_verify(const pki_crl *c, const uint8_t *issuer_spki, size_t issuer_spki_len)
{
    return c ? pkix_verify_signed(c->sig_alg, &c->tbs, &c->signature, issuer_spki, issuer_spki_len)
             : -1;
}
