/* OCSP request parser (RFC 6960 section 4.1.1, nonce per RFC 8954). */
#include <stdlib.h>
#include <string.h>

#include "pkix/pkix_impl.h"

#define OID_NONCE "1.3.6.1.5.5.7.48.1.2"

void pki_ocsp_request_free(pki_ocsp_request *r)
{
    if (!r)
        return;
    free(r->ids);
    pkix_extensions_clear(&r->ext);
    free(r->priv);
    free(r);
}

size_t pki_ocsp_hash_len(pki_ocsp_hash h)
{
    static const size_t LEN[] = {0, 20, 32, 48, 64};
    return (unsigned)h <= PKI_OCSP_HASH_SHA512 ? LEN[h] : 0;
}

/* hashAlgorithm: SHA-1 or SHA-2, parameters NULL or absent. */
static int hash_alg(const pki_der_item *alg, pki_ocsp_hash *h)
{
    pki_der in;
    pki_der_item oid, par;
    if (pki_der_enter(alg, &in) != 0 || pki_der_expect(&in, PKI_DER_OID, &oid) != 0)
        return -1;
    if (pki_der_next(&in, &par) == 0 && (pki_der_null(&par) != 0 || !pki_der_at_end(&in)))
        return -1;
    if (pki_der_oid_is(&oid, "1.3.14.3.2.26"))
        *h = PKI_OCSP_HASH_SHA1;
    else if (pki_der_oid_is(&oid, "2.16.840.1.101.3.4.2.1"))
        *h = PKI_OCSP_HASH_SHA256;
    else if (pki_der_oid_is(&oid, "2.16.840.1.101.3.4.2.2"))
        *h = PKI_OCSP_HASH_SHA384;
    else if (pki_der_oid_is(&oid, "2.16.840.1.101.3.4.2.3"))
        *h = PKI_OCSP_HASH_SHA512;
    else
        return -1;
    return 0;
}

static int read_cert_id(const pki_der_item *it, pki_ocsp_cert_id *id, char *err, size_t errlen)
{
    pki_der in;
    pki_der_item alg, nh, kh, serial;
    if (it->tag != PKI_DER_SEQUENCE || pki_der_enter(it, &in) != 0 ||
        pki_der_expect(&in, PKI_DER_SEQUENCE, &alg) != 0 ||
        pki_der_expect(&in, PKI_DER_OCTET_STRING, &nh) != 0 ||
        pki_der_expect(&in, PKI_DER_OCTET_STRING, &kh) != 0 ||
        pki_der_expect(&in, PKI_DER_INTEGER, &serial) != 0 || !pki_der_at_end(&in)) {
        pkix_errf(err, errlen, "OCSP request: malformed CertID");
        return -1;
    }
    if (hash_alg(&alg, &id->hash) != 0) {
        pkix_errf(err, errlen, "OCSP request: unsupported CertID hash algorithm");
        return -1;
    }
    size_t hl = pki_ocsp_hash_len(id->hash);
    if (nh.len != hl || kh.len != hl) {
        pkix_errf(err, errlen, "OCSP request: CertID hashes have the wrong length");
        return -1;
    }
    if (pki_der_int_unsigned_bytes(&serial, &id->serial.p, &id->serial.len) != 0) {
        pkix_errf(err, errlen, "OCSP request: bad serial number");
        return -1;
    }
    id->cert_id_der = pkix_span(it->raw, it->raw_len);
    id->issuer_name_hash = pkix_span(nh.val, nh.len);
    id->issuer_key_hash = pkix_span(kh.val, kh.len);
    return 0;
}

/* Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT OPTIONAL } */
static int read_request(const pki_der_item *it, pki_ocsp_cert_id *id, char *err, size_t errlen)
{
    pki_der in;
    pki_der_item cid, exts;
    if (it->tag != PKI_DER_SEQUENCE || pki_der_enter(it, &in) != 0 ||
        pki_der_next(&in, &cid) != 0 || pki_der_optional(&in, PKI_DER_CTX_CONS(0), &exts) < 0 ||
        !pki_der_at_end(&in)) {
        pkix_errf(err, errlen, "OCSP request: malformed Request");
        return -1;
    }
    return read_cert_id(&cid, id, err, errlen);
}

static int read_nonce(pki_ocsp_request *r, char *err, size_t errlen)
{
    const pki_extension *n = pki_extensions_find(&r->ext, OID_NONCE);
    if (!n)
        return 0;
    pki_der_item inner;
    /* RFC 8954: the value is an OCTET STRING; some old clients put the bytes in bare. */
    if (pki_der_single(n->value.p, n->value.len, &inner) == 0 && inner.tag == PKI_DER_OCTET_STRING)
        r->nonce = pkix_span(inner.val, inner.len);
    else
        r->nonce = n->value;
    if (r->nonce.len == 0 || r->nonce.len > 128) {
        pkix_errf(err, errlen, "OCSP request: nonce of %zu octets (1 to 128 are accepted)",
                  r->nonce.len);
        return -1;
    }
    r->has_nonce = 1;
    return 0;
}

static int read_tbs(pki_ocsp_request *r, const pki_der_item *tbs_it, char *err, size_t errlen)
{
    pki_der tbs, v, list, e;
    pki_der_item it, list_it, req;
    pki_der_enter(tbs_it, &tbs);
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) == 0) {
        long ver;
        pki_der_enter(&it, &v);
        if (pki_der_expect(&v, PKI_DER_INTEGER, &it) != 0 || !pki_der_at_end(&v) ||
            pki_der_int_long(&it, &ver) != 0 || ver != 0) {
            pkix_errf(err, errlen, "OCSP request: unsupported version");
            return -1;
        }
    }
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(1), &it) < 0 || /* requestorName */
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &list_it) != 0) {
        pkix_errf(err, errlen, "OCSP request: malformed TBSRequest");
        return -1;
    }
    pki_der_enter(&list_it, &list);
    int rc;
    while ((rc = pki_der_next(&list, &req)) == 0) {
        if (r->count == PKI_PKIX_MAX_OCSP_REQUESTS) {
            pkix_errf(err, errlen, "OCSP request: more than %d certificates asked about",
                      PKI_PKIX_MAX_OCSP_REQUESTS);
            return -1;
        }
        pki_ocsp_cert_id *ids = realloc(r->ids, (r->count + 1) * sizeof *ids);
        if (!ids) {
            pkix_errf(err, errlen, "out of memory");
            return -1;
        }
        r->ids = ids;
        if (read_request(&req, &r->ids[r->count], err, errlen) != 0)
            return -1;
        r->count++;
    }
    if (rc < 0 || r->count == 0) {
        pkix_errf(err, errlen, "OCSP request: %s",
                  rc < 0 ? "malformed requestList" : "no certificate asked about");
        return -1;
    }
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(2), &it) == 0) {
        pki_der_item exts;
        char why[128];
        pki_der_enter(&it, &e);
        if (pki_der_next(&e, &exts) != 0 || !pki_der_at_end(&e)) {
            pkix_errf(err, errlen, "OCSP request: malformed requestExtensions");
            return -1;
        }
        if (pkix_extensions_parse(&exts, &r->ext, why, sizeof why) != 0) {
            pkix_errf(err, errlen, "OCSP request: %s", why);
            return -1;
        }
    }
    if (!pki_der_at_end(&tbs)) {
        pkix_errf(err, errlen, "OCSP request: trailing data in TBSRequest");
        return -1;
    }
    return read_nonce(r, err, errlen);
}

pki_ocsp_request *pki_ocsp_request_parse(const uint8_t *der, size_t len, char *err, size_t errlen)
{
    pki_ocsp_request *r = calloc(1, sizeof *r);
    uint8_t *copy;
    size_t copy_len;
    if (!r) {
        pkix_errf(err, errlen, "out of memory");
        return NULL;
    }
    r->ext.path_len = -1;
    if (pkix_input(der, len, NULL, "OCSP request", &copy, &copy_len, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->priv = copy;
    r->der = pkix_span(copy, copy_len);
    pki_der_item top, tbs, sig;
    pki_der body;
    if (pki_der_single(copy, copy_len, &top) != 0 || top.tag != PKI_DER_SEQUENCE ||
        pki_der_enter(&top, &body) != 0 || pki_der_expect(&body, PKI_DER_SEQUENCE, &tbs) != 0) {
        pkix_errf(err, errlen, "OCSP request: malformed (not a DER OCSPRequest)");
        goto fail;
    }
    int rc = pki_der_optional(&body, PKI_DER_CTX_CONS(0), &sig);
    if (rc < 0 || !pki_der_at_end(&body)) {
        pkix_errf(err, errlen, "OCSP request: malformed optionalSignature");
        goto fail;
    }
    r->is_signed = rc == 0;
    if (read_tbs(r, &tbs, err, errlen) != 0)
        goto fail;
    return r;
fail:
    pki_ocsp_request_free(r);
    return NULL;
}
