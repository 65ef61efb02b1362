/* OCSP request reading on lib/pkix. */
#include <string.h>

#include "ocsp/ocsp_impl.h"
#include "pkix/pkix.h"

static const char *hash_oid(pki_ocsp_hash h)
{
    switch (h) {
    case PKI_OCSP_HASH_SHA1:
        return "1.3.14.3.2.26";
    case PKI_OCSP_HASH_SHA256:
        return "2.16.840.1.101.3.4.2.1";
    case PKI_OCSP_HASH_SHA384:
        return "2.16.840.1.101.3.4.2.2";
    case PKI_OCSP_HASH_SHA512:
        return "2.16.840.1.101.3.4.2.3";
    }
    return NULL;
}

int ocsp_req_parse(const uint8_t *der, size_t len, ocsp_req *out)
{
    char err[160];
    memset(out, 0, sizeof *out);
    pki_ocsp_request *r = pki_ocsp_request_parse(der, len, err, sizeof err);
    if (!r)
        return -1;
    int rc = -1;
    if (r->count == 0 || r->count > OCSP_MAX_IDS)
        goto out;
    for (size_t i = 0; i < r->count; i++) {
        const pki_ocsp_cert_id *s = &r->ids[i];
        ocsp_id *d = &out->ids[i];
        const char *oid = hash_oid(s->hash);
        if (!oid || s->issuer_name_hash.len > sizeof d->name_hash ||
            s->issuer_key_hash.len != s->issuer_name_hash.len || s->serial.len > sizeof d->serial ||
            s->cert_id_der.len > sizeof d->certid_der)
            goto out;
        strcpy(d->hash_oid, oid);
        d->hash = (int)s->hash;
        d->hash_len = s->issuer_name_hash.len;
        memcpy(d->name_hash, s->issuer_name_hash.p, d->hash_len);
        memcpy(d->key_hash, s->issuer_key_hash.p, d->hash_len);
        d->serial_len = s->serial.len;
        memcpy(d->serial, s->serial.p, s->serial.len);
        d->certid_len = s->cert_id_der.len;
        memcpy(d->certid_der, s->cert_id_der.p, s->cert_id_der.len);
    }
    out->count = r->count;
    if (r->has_nonce) {
        if (r->nonce.len > sizeof out->nonce)
            goto out;
        memcpy(out->nonce, r->nonce.p, r->nonce.len);
        out->nonce_len = r->nonce.len;
    }
    rc = 0;
out:
    pki_ocsp_request_free(r);
    return rc;
}
