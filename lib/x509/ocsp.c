/* OCSP responses (RFC 6960 4.2): BasicOCSPResponse signed by the responder, wrapped in an
 * OCSPResponse; and the unsigned error responses. */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha.h>

#include "der/der_reader.h"
#include "x509/x509.h"
#include "x509/x509_impl.h"

#define OID_SHA1 "1.3.14.3.2.26"
#define OID_OCSP_BASIC "1.3.6.1.5.5.7.48.1.1"
#define OID_OCSP_NONCE "1.3.6.1.5.5.7.48.1.2"

int pki_ocsp_certid_sha1(pki_ocsp_certid *id, const uint8_t *issuer_name, size_t name_len,
                         const uint8_t *issuer_spki, size_t spki_len, const uint8_t *serial,
                         size_t serial_len)
{
    memset(id, 0, sizeof *id);
    while (serial_len > 0 && serial && serial[0] == 0) {
        serial++;
        serial_len--;
    }
    if (!issuer_name || !serial || serial_len == 0 || serial_len > sizeof id->serial)
        return -1;
    if (wc_ShaHash(issuer_name, (word32)name_len, id->name_hash) != 0 ||
        pki_key_id_from_spki(issuer_spki, spki_len, id->key_hash))
        return -1;
    strcpy(id->hash_oid, OID_SHA1);
    id->hash_len = WC_SHA_DIGEST_SIZE;
    memcpy(id->serial, serial, serial_len);
    id->serial_len = serial_len;
    return 0;
}

static int check(const pki_ocsp_template *t, char *err, size_t errlen)
{
    if (t->count == 0 || !t->responses)
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP: no responses");
    if (!pki_x509_time_ok(t->produced_at))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP: bad producedAt");
    for (size_t i = 0; i < t->count; i++) {
        const pki_ocsp_single *r = &t->responses[i];
        uint8_t tmp[64];
        pki_der_item it;
        int bad = r->id.der ? pki_der_single(r->id.der, r->id.der_len, &it) != 0 ||
                                  it.tag != PKI_DER_SEQUENCE
                            : pki_derw_oid_encode(r->id.hash_oid, tmp, sizeof tmp) < 0 ||
                                  r->id.hash_len == 0 || r->id.hash_len > sizeof r->id.name_hash ||
                                  r->id.serial_len == 0 || r->id.serial_len > sizeof r->id.serial;
        if (bad)
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP response %zu: bad CertID",
                                i);
        if (r->status != PKI_OCSP_GOOD && r->status != PKI_OCSP_REVOKED &&
            r->status != PKI_OCSP_UNKNOWN)
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP response %zu: bad status",
                                i);
        if (!pki_x509_time_ok(r->this_update) ||
            (r->next_update && !pki_x509_time_ok(r->next_update)) ||
            (r->next_update && r->next_update < r->this_update) ||
            (r->status == PKI_OCSP_REVOKED && !pki_x509_time_ok(r->revoked_at)))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP response %zu: bad time", i);
        if (r->status == PKI_OCSP_REVOKED && r->reason != PKI_REASON_NONE &&
            (r->reason < 0 || r->reason > 10 || r->reason == 7))
            return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT,
                                "OCSP response %zu: bad revocation reason", i);
    }
    return 0;
}

static void write_single(pki_der_writer *w, const pki_ocsp_single *r)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    if (r->id.der) {
        pki_derw_raw(w, r->id.der, r->id.der_len); /* the request's CertID, echoed */
    } else {
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        pki_derw_oid(w, r->id.hash_oid);
        pki_derw_null(w);
        pki_derw_end(w);
        pki_derw_octet_string(w, r->id.name_hash, r->id.hash_len);
        pki_derw_octet_string(w, r->id.key_hash, r->id.hash_len);
        pki_derw_uint_be(w, PKI_DER_INTEGER, r->id.serial, r->id.serial_len);
        pki_derw_end(w);
    }
    if (r->status == PKI_OCSP_GOOD) {
        pki_derw_tlv(w, PKI_DER_CTX(0), NULL, 0);
    } else if (r->status == PKI_OCSP_UNKNOWN) {
        pki_derw_tlv(w, PKI_DER_CTX(2), NULL, 0);
    } else {
        pki_derw_begin(w, PKI_DER_CTX_CONS(1));
        pki_derw_generalized_time(w, r->revoked_at);
        if (r->reason != PKI_REASON_NONE) {
            pki_derw_begin(w, PKI_DER_CTX_CONS(0));
            pki_derw_enum(w, r->reason);
            pki_derw_end(w);
        }
        pki_derw_end(w);
    }
    pki_derw_generalized_time(w, r->this_update);
    if (r->next_update) {
        pki_derw_begin(w, PKI_DER_CTX_CONS(0));
        pki_derw_generalized_time(w, r->next_update);
        pki_derw_end(w);
    }
    pki_derw_end(w);
}

static int response_data(const pki_ocsp_template *t, pki_signer *signer, uint8_t **tbs,
                         size_t *tbs_len, char *err, size_t errlen)
{
    int rc = check(t, err, errlen);
    if (rc)
        return rc;
    uint8_t key_hash[20];
    if (pki_key_id_from_spki(signer->spki, signer->spki_len, key_hash))
        return pki_x509_err(err, errlen, PKI_X509_ERR_INPUT, "OCSP: signer has no usable SPKI");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(2)); /* responderID byKey */
    pki_derw_octet_string(&w, key_hash, sizeof key_hash);
    pki_derw_end(&w);
    pki_derw_generalized_time(&w, t->produced_at);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < t->count; i++)
        write_single(&w, &t->responses[i]);
    pki_derw_end(&w);
    if (t->nonce) {
        pki_derw_begin(&w, PKI_DER_CTX_CONS(1));
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_oid(&w, OID_OCSP_NONCE);
        pki_derw_begin(&w, PKI_DER_OCTET_STRING); /* extnValue: OCTET STRING (nonce) */
        pki_derw_octet_string(&w, t->nonce, t->nonce_len);
        pki_derw_end(&w);
        pki_derw_end(&w);
        pki_derw_end(&w);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    *tbs = pki_derw_take(&w, tbs_len);
    if (!*tbs)
        return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "OCSP encoding failed");
    return 0;
}

struct certs {
    uint8_t *der;
    size_t len;
};

static void certs_free(void *p)
{
    struct certs *c = p;
    if (c) {
        free(c->der);
        free(c);
    }
}

/* OCSPResponse { successful, [0] { id-pkix-ocsp-basic, OCTET STRING { BasicOCSPResponse } } } */
static void assemble(pki_der_writer *w, const uint8_t *tbs, size_t tbs_len, const uint8_t *alg,
                     size_t alg_len, const uint8_t *sig, size_t sig_len, void *extra)
{
    const struct certs *c = extra;
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_enum(w, 0);
    pki_derw_begin(w, PKI_DER_CTX_CONS(0));
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, OID_OCSP_BASIC);
    pki_derw_begin(w, PKI_DER_OCTET_STRING);
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_raw(w, tbs, tbs_len);
    pki_derw_raw(w, alg, alg_len);
    pki_derw_bit_string(w, sig, sig_len, 0);
    if (c && c->der) {
        pki_derw_begin(w, PKI_DER_CTX_CONS(0));
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        pki_derw_raw(w, c->der, c->len);
        pki_derw_end(w);
        pki_derw_end(w);
    }
    pki_derw_end(w);
    pki_derw_end(w);
    pki_derw_end(w);
    pki_derw_end(w);
    pki_derw_end(w);
}

static int prepare(const pki_ocsp_template *t, pki_signer *signer, int *alg, uint8_t **tbs,
                   size_t *tbs_len, struct certs **c, char *err, size_t errlen)
{
    *c = NULL;
    *alg = pki_x509_pick_alg(signer, t->sig_alg, err, errlen);
    if (*alg < 0)
        return *alg;
    if (t->responder_cert) {
        *c = calloc(1, sizeof **c);
        if (*c)
            (*c)->der = malloc(t->responder_cert_len ? t->responder_cert_len : 1);
        if (!*c || !(*c)->der) {
            certs_free(*c);
            return pki_x509_err(err, errlen, PKI_X509_ERR_NOMEM, "out of memory");
        }
        memcpy((*c)->der, t->responder_cert, t->responder_cert_len);
        (*c)->len = t->responder_cert_len;
    }
    int rc = response_data(t, signer, tbs, tbs_len, err, errlen);
    if (rc)
        certs_free(*c);
    return rc;
}

int pki_ocsp_build(const pki_ocsp_template *t, pki_signer *signer, pki_build_done_fn done,
                   void *ctx, char *err, size_t errlen)
{
    int alg;
    uint8_t *tbs;
    size_t tbs_len;
    struct certs *c;
    int rc = prepare(t, signer, &alg, &tbs, &tbs_len, &c, err, errlen);
    if (rc)
        return rc;
    return pki_x509_sign(tbs, tbs_len, (pki_sig_alg)alg, signer, assemble, c, certs_free, done, ctx,
                         err, errlen);
}

int pki_ocsp_build_sync(const pki_ocsp_template *t, pki_signer *signer, uint8_t **der, size_t *len,
                        char *err, size_t errlen)
{
    *der = NULL;
    int alg;
    uint8_t *tbs;
    size_t tbs_len;
    struct certs *c;
    int rc = prepare(t, signer, &alg, &tbs, &tbs_len, &c, err, errlen);
    if (rc)
        return rc;
    return pki_x509_sign_sync(tbs, tbs_len, (pki_sig_alg)alg, signer, assemble, c, certs_free, der,
                              len, err, errlen);
}

int pki_ocsp_error_response(int response_status, uint8_t **der, size_t *len)
{
    if (response_status < 1 || response_status > 6 || response_status == 4)
        return PKI_X509_ERR_INPUT;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_enum(&w, response_status);
    pki_derw_end(&w);
    *der = pki_derw_take(&w, len);
    return *der ? 0 : PKI_X509_ERR_NOMEM;
}
