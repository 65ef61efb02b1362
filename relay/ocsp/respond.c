/* Building OCSP answers on lib/x509 (worker side). */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "der/der_reader.h"
#include "log/log.h"
#include "ocsp/ocsp_impl.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "x509/x509.h"

static int digest(int hash, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    int rc = -1;
    switch (hash) {
    case 1:
        rc = wc_ShaHash(in, (word32)len, out);
        *out_len = 20;
        break;
    case 2:
        rc = wc_Sha256Hash(in, (word32)len, out);
        *out_len = 32;
        break;
    case 3:
        rc = wc_Sha384Hash(in, (word32)len, out);
        *out_len = 48;
        break;
    case 4:
        rc = wc_Sha512Hash(in, (word32)len, out);
        *out_len = 64;
        break;
    }
    return rc == 0 ? 0 : -1;
}

/* The subjectPublicKey bits of an SPKI (what issuerKeyHash hashes). */
static int spki_key_bits(const uint8_t *spki, size_t len, const uint8_t **bits, size_t *blen)
{
    pki_der d, inner;
    pki_der_item seq, alg, bs;
    pki_der_init(&d, spki, len);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &inner, &seq) != 0 ||
        pki_der_expect(&inner, PKI_DER_SEQUENCE, &alg) != 0 ||
        pki_der_expect(&inner, PKI_DER_BIT_STRING, &bs) != 0)
        return -1;
    return pki_der_bit_string_octets(&bs, bits, blen);
}

/* Whether the CertID names this CA as issuer. */
static bool ours(const ocsp_id *id, const pki_issuer *is, const uint8_t *spki, size_t spki_len)
{
    uint8_t h[64];
    size_t hl;
    const uint8_t *bits;
    size_t blen;
    if (digest(id->hash, is->name_der, is->name_len, h, &hl) != 0 || hl != id->hash_len ||
        memcmp(h, id->name_hash, hl) != 0)
        return false;
    if (spki_key_bits(spki, spki_len, &bits, &blen) != 0 ||
        digest(id->hash, bits, blen, h, &hl) != 0 || memcmp(h, id->key_hash, hl) != 0)
        return false;
    return true;
}

static int error_response(int status, uint8_t **der, size_t *len)
{
    return pki_ocsp_error_response(status, der, len);
}

int ocsp_respond(relay_app *app, store *st, int64_t ca_id, const ocsp_req *req, uint8_t **der,
                 size_t *len, int64_t *valid_until)
{
    *valid_until = 0;
    uint64_t gen = ocsp_cache_generation(ca_id);
    store_ca ca;
    if (store_ca_get(st, 0, ca_id, &ca) != STORE_OK)
        return error_response(PKI_OCSP_UNAUTHORIZED, der, len);
    int rc = -1;
    pki_issuer is;
    memset(&is, 0, sizeof is);
    char err[200];
    store_cert responder;
    memset(&responder, 0, sizeof responder);
    pki_signer *signer = NULL;
    if (strcmp(ca.status, "active") != 0 || !ca.cert_der ||
        pki_issuer_from_cert(&is, ca.cert_der, ca.cert_len, err, sizeof err) != 0 ||
        store_cert_get(st, 0, ca.ocsp_cert_id, &responder) != STORE_OK ||
        !(signer = ca_ocsp_signer(app, &ca, err, sizeof err))) {
        rc = error_response(PKI_OCSP_UNAUTHORIZED, der, len);
        goto out;
    }
    int64_t now = pki_now();
    pki_ocsp_single singles[OCSP_MAX_IDS];
    memset(singles, 0, sizeof singles);
    for (size_t i = 0; i < req->count; i++) {
        const ocsp_id *id = &req->ids[i];
        pki_ocsp_single *s = &singles[i];
        if (!ours(id, &is, ca.spki, ca.spki_len)) {
            rc = error_response(PKI_OCSP_UNAUTHORIZED, der, len);
            goto out;
        }
        if (id->serial_len > sizeof s->id.serial) {
            rc = error_response(PKI_OCSP_MALFORMED_REQUEST, der, len);
            goto out;
        }
        s->id.der = id->certid_der; /* echoed verbatim */
        s->id.der_len = id->certid_len;
        snprintf(s->id.hash_oid, sizeof s->id.hash_oid, "%s", id->hash_oid);
        memcpy(s->id.name_hash, id->name_hash, id->hash_len);
        memcpy(s->id.key_hash, id->key_hash, id->hash_len);
        s->id.hash_len = id->hash_len;
        memcpy(s->id.serial, id->serial, id->serial_len);
        s->id.serial_len = id->serial_len;
        s->this_update = now;
        s->next_update = now + ocsp_validity();
        char *hex = pki_hex_encode(id->serial, id->serial_len);
        store_cert cert;
        int found = hex ? store_cert_get_by_serial(st, ca_id, hex, &cert) : STORE_ERROR;
        free(hex);
        if (found != STORE_OK) {
            s->status = PKI_OCSP_UNKNOWN;
        } else {
            if (cert.revoked_at) {
                s->status = PKI_OCSP_REVOKED;
                s->revoked_at = cert.revoked_at;
                s->reason = cert.reason > 0 ? cert.reason : PKI_REASON_NONE;
            } else {
                s->status = PKI_OCSP_GOOD;
            }
            store_cert_clear(&cert);
        }
    }
    pki_ocsp_template t = {.produced_at = now,
                           .responses = singles,
                           .count = req->count,
                           .nonce = req->nonce_len ? req->nonce : NULL,
                           .nonce_len = req->nonce_len,
                           .responder_cert = responder.der,
                           .responder_cert_len = responder.der_len};
    if (pki_ocsp_build_sync(&t, signer, der, len, err, sizeof err) != 0) {
        pki_warn("OCSP: cannot sign for CA %lld: %s", (long long)ca_id, err);
        rc = error_response(PKI_OCSP_INTERNAL_ERROR, der, len);
        goto out;
    }
    *valid_until = now + ocsp_validity();
    if (req->count == 1 && !req->nonce_len) {
        /* Unknown serials are re-checked sooner (the certificate may be issued any moment). */
        int64_t refresh =
            singles[0].status == PKI_OCSP_UNKNOWN ? now + 60 : now + ocsp_validity() / 2;
        ocsp_cache_store(ca_id, gen, req->ids[0].certid_der, req->ids[0].certid_len,
                         req->ids[0].serial, req->ids[0].serial_len, *der, *len, refresh,
                         *valid_until);
    }
    rc = 0;
out:
    pki_issuer_free(&is);
    store_cert_clear(&responder);
    store_ca_clear(&ca);
    return rc;
}
