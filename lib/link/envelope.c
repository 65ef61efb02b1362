/* Link identities and the envelope: CMS SignedData (ECDSA P-256) inside CMS AuthEnvelopedData
 * (AES-256-GCM, ECDH key agreement), both made and read by wolfSSL's PKCS#7 code. */
#include "link/link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/cryptocb.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/pkcs7.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "der/der_reader.h"
#include "der/der_writer.h"
#include "link/link_ephemeral.h"
#include "link/link_rng.h"
#include "pkix/pkix.h"
#include "signer/soft_signer.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "x509/x509.h"

struct link_identity {
    char name[LINK_NAME_MAX];
    pki_signer *signer; /* a soft signer: owns the key */
    uint8_t *key_der;   /* PKCS#8, as wolfSSL's PKCS#7 code wants it */
    size_t key_len;
    uint8_t *cert;
    size_t cert_len;
    /* wc_PKCS7_InitWithCert(cert), done once when the certificate is set. It parses the
     * certificate and validates its public key in full (a generic scalar multiplication on
     * this wolfSSL): about a tenth of a millisecond that every message used to pay twice
     * (sealing and opening). Each message's PKCS7 starts as a copy (p7_for_self). Read-only
     * while messages are sealed or opened, so neither needs a lock: the RNG is per thread. */
    PKCS7 tmpl;
    int have_tmpl;
};

/* ---- One RNG per thread (link_rng.h) ------------------------------------------------------ */

typedef struct {
    WC_RNG rng;
    pid_t pid; /* a forked child must not repeat its parent's stream (ECDSA nonces) */
} thread_rng;

static pthread_key_t rng_key;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static int rng_key_ok;

static void thread_rng_free(void *p)
{
    thread_rng *t = p;
    wc_FreeRng(&t->rng);
    free(t);
}

static void rng_key_make(void)
{
    rng_key_ok = pthread_key_create(&rng_key, thread_rng_free) == 0;
}

WC_RNG *link_thread_rng(void)
{
    pthread_once(&rng_once, rng_key_make);
    if (!rng_key_ok)
        return NULL;
    thread_rng *t = pthread_getspecific(rng_key);
    pid_t pid = getpid();
    if (t && t->pid == pid)
        return &t->rng;
    if (t) {
        pthread_setspecific(rng_key, NULL);
        thread_rng_free(t);
    }
    if (!(t = calloc(1, sizeof *t)))
        return NULL;
    if (wc_InitRng(&t->rng) != 0) {
        free(t);
        return NULL;
    }
    t->pid = pid;
    if (pthread_setspecific(rng_key, t) != 0) {
        thread_rng_free(t);
        return NULL;
    }
    return &t->rng;
}

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* The certificate's SubjectPublicKeyInfo must be the key's. */
static int cert_matches_key(const uint8_t *cert, size_t cert_len, pki_key *key)
{
    pki_der_item top, tbs, it;
    pki_der c, t;
    if (pki_der_single(cert, cert_len, &top) || pki_der_enter(&top, &c) ||
        pki_der_expect(&c, PKI_DER_SEQUENCE, &tbs) || pki_der_enter(&tbs, &t))
        return -1;
    if (pki_der_optional(&t, PKI_DER_CTX_CONS(0), &it) < 0)
        return -1;
    /* serial, signature, issuer, validity, subject, then the SPKI */
    for (int i = 0; i < 5; i++)
        if (pki_der_next(&t, &it))
            return -1;
    if (pki_der_expect(&t, PKI_DER_SEQUENCE, &it))
        return -1;
    size_t spki_len;
    const uint8_t *spki = pki_key_spki(key, &spki_len);
    return it.raw_len == spki_len && memcmp(it.raw, spki, spki_len) == 0 ? 0 : -1;
}

static void link_sign_device_init(void);

static link_identity *identity_new(const char *name, pki_signer *signer, char *err, size_t errlen)
{
    link_identity *id = calloc(1, sizeof *id);
    if (!id || !signer || strlen(name) >= LINK_NAME_MAX) {
        seterr(err, errlen, !signer ? "cannot make the key" : "link name too long");
        pki_signer_free(signer);
        free(id);
        return NULL;
    }
    snprintf(id->name, sizeof id->name, "%s", name);
    id->signer = signer;
    link_sign_device_init(); /* at start-up, before the link's threads sign */
    if (pki_key_get_type(pki_soft_signer_key(signer)) != PKI_KEY_EC_P256) {
        seterr(err, errlen, "a link key must be ECDSA P-256");
        goto fail;
    }
    if (pki_key_to_pkcs8_der(pki_soft_signer_key(signer), &id->key_der, &id->key_len)) {
        seterr(err, errlen, "cannot prepare the link key");
        goto fail;
    }
    return id;
fail:
    link_identity_free(id);
    return NULL;
}

/* A PKCS7 as wc_PKCS7_InitWithCert(cert) leaves it, to be copied for each message
 * (p7_copy): the parse and full validation of the certificate's key paid once. cert must
 * outlive it. 0, or -1 (t then owns nothing). */
static int p7_template_make(PKCS7 *t, uint8_t *cert, size_t len)
{
    memset(t, 0, sizeof *t); /* wc_PKCS7_Init keeps isDynamic from what it finds */
    if (wc_PKCS7_Init(t, NULL, INVALID_DEVID) != 0 ||
        wc_PKCS7_InitWithCert(t, cert, (word32)len) != 0) {
        wc_PKCS7_Free(t);
        return -1;
    }
    return 0;
}

/* A copy of a template for one message, on the caller's stack, owning nothing of the
 * template's: release it with wc_PKCS7_Free. */
static void p7_copy(const PKCS7 *tmpl, PKCS7 *p7)
{
    *p7 = *tmpl;
    p7->isDynamic = 0; /* on the caller's stack: wc_PKCS7_Free must not free it */
    p7->certList = NULL;
}

/* Makes cert (malloc'd, taken over on success) id's certificate and its PKCS7 template. */
static int install_cert(link_identity *id, uint8_t *cert, size_t len)
{
    PKCS7 t;
    if (p7_template_make(&t, cert, len) != 0)
        return -1;
    if (id->have_tmpl)
        wc_PKCS7_Free(&id->tmpl);
    free(id->cert);
    id->tmpl = t;
    id->have_tmpl = 1;
    id->cert = cert;
    id->cert_len = len;
    return 0;
}

/* A PKCS7 for one message, as wc_PKCS7_InitWithCert(our certificate) would leave it: a copy
 * of the template with a certificate list of its own. Release with wc_PKCS7_Free, also when
 * this fails (the copy then owns nothing). */
static int p7_for_self(const link_identity *self, PKCS7 *p7)
{
    p7_copy(&self->tmpl, p7);
    return wc_PKCS7_AddCertificate(p7, self->cert, (word32)self->cert_len) == 0 ? 0 : -1;
}

/* Gives id a self-signed certificate (CN=name, 10 years). */
static int self_sign(link_identity *id, const char *name, char *err, size_t errlen)
{
    pki_cert_template t;
    pki_cert_template_init(&t);
    char cerr[200];
    if (pki_name_add(&t.subject, "CN", name, cerr, sizeof cerr)) {
        seterr(err, errlen, cerr);
        return -1;
    }
    int64_t now = pki_now();
    t.not_before = now - 3600;
    t.not_after = now + 10LL * 366 * 86400;
    t.spki = id->signer->spki;
    t.spki_len = id->signer->spki_len;
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_AGREEMENT;
    uint8_t *cert;
    size_t cert_len;
    if (pki_cert_build_sync(&t, NULL, id->signer, &cert, &cert_len, cerr, sizeof cerr)) {
        seterr(err, errlen, cerr);
        return -1;
    }
    if (install_cert(id, cert, cert_len)) {
        free(cert);
        seterr(err, errlen, "wolfSSL cannot use the link certificate");
        return -1;
    }
    return 0;
}

link_identity *link_identity_generate(const char *name, char *err, size_t errlen)
{
    link_identity *id =
        identity_new(name, pki_soft_signer_generate(PKI_KEY_EC_P256, 0), err, errlen);
    if (id && self_sign(id, name, err, errlen)) {
        link_identity_free(id);
        return NULL;
    }
    return id;
}

link_identity *link_identity_self_signed(const char *name, const uint8_t *key, size_t key_len,
                                         char *err, size_t errlen)
{
    pki_signer *s = pki_soft_signer_from_der(key, key_len, NULL, err, errlen);
    if (!s)
        return NULL;
    link_identity *id = identity_new(name, s, err, errlen);
    if (id && self_sign(id, name, err, errlen)) {
        link_identity_free(id);
        return NULL;
    }
    return id;
}

link_identity *link_identity_load(const char *name, const uint8_t *key, size_t key_len,
                                  const uint8_t *cert, size_t cert_len, char *err, size_t errlen)
{
    pki_signer *s = pki_soft_signer_from_der(key, key_len, NULL, err, errlen);
    if (!s)
        return NULL;
    link_identity *id = identity_new(name, s, err, errlen);
    if (id && link_identity_set_cert(id, cert, cert_len, err, errlen)) {
        link_identity_free(id);
        return NULL;
    }
    return id;
}

int link_identity_set_cert(link_identity *id, const uint8_t *cert, size_t len, char *err,
                           size_t errlen)
{
    if (cert_matches_key(cert, len, pki_soft_signer_key(id->signer))) {
        seterr(err, errlen, "the certificate does not hold the link key");
        return -1;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, cert, len);
    if (install_cert(id, copy, len)) {
        free(copy);
        seterr(err, errlen, "wolfSSL cannot use the certificate");
        return -1;
    }
    return 0;
}

void link_identity_free(link_identity *id)
{
    if (!id)
        return;
    pki_signer_free(id->signer);
    pki_secret_free(id->key_der, id->key_len);
    if (id->have_tmpl)
        wc_PKCS7_Free(&id->tmpl);
    free(id->cert);
    free(id);
}

const char *link_identity_name(const link_identity *id)
{
    return id->name;
}

const uint8_t *link_identity_cert(const link_identity *id, size_t *len)
{
    *len = id->cert_len;
    return id->cert;
}

pki_key *link_identity_key(link_identity *id)
{
    return pki_soft_signer_key(id->signer);
}

pki_signer *link_identity_signer(link_identity *id)
{
    return id->signer;
}

int link_identity_export_key(const link_identity *id, uint8_t **der, size_t *len)
{
    return pki_key_to_pkcs8_der(pki_soft_signer_key(id->signer), der, len);
}

int link_device_name(const uint8_t *spki, size_t len, char out[LINK_NAME_MAX])
{
    uint8_t h[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash(spki, (word32)len, h) != 0)
        return -1;
    char *hex = pki_hex_encode(h, 8);
    if (!hex)
        return -1;
    snprintf(out, LINK_NAME_MAX, "device:%s", hex);
    free(hex);
    return 0;
}

int link_device_name_of_cert(const uint8_t *cert, size_t len, char out[LINK_NAME_MAX])
{
    char err[128];
    pki_cert *c = pki_cert_parse(cert, len, err, sizeof err);
    int rc = c ? link_device_name(c->spki.p, c->spki.len, out) : -1;
    pki_cert_free(c);
    return rc;
}

int link_cert_fingerprint(const uint8_t *cert, size_t len, char out[65])
{
    uint8_t h[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash(cert, (word32)len, h) != 0)
        return -1;
    char *hex = pki_hex_encode(h, sizeof h);
    if (!hex)
        return -1;
    memcpy(out, hex, 65);
    free(hex);
    return 0;
}

/* ---- Sealing ------------------------------------------------------------------------------ */

/* Given a private key, wolfSSL's PKCS#7 signing decodes it and runs wc_ecc_check_key on it for
 * every message: a full public-key validation as costly as the signature itself. Our key was
 * validated once when it was loaded (pki_key_import), so the SignedData is made with a wolfCrypt
 * crypto-callback device instead: wolfSSL hands it the digest, the callback signs it with this
 * thread's identity (t_signing) in software, and everything else (hashing, RNG) falls back to
 * wolfSSL's own code. The SignedData is byte for byte what wolfSSL makes with the key. The same
 * device hands wolfSSL's KARI code the sender's kept ephemeral key when sealing
 * (link_ephemeral.h). */
#define LINK_SIGN_DEVID 0x4c4e4b31 /* "LNK1" */

static __thread const link_identity *t_signing;
static pthread_once_t devid_once = PTHREAD_ONCE_INIT;
static int devid_ok;

static int sign_with_identity(wc_CryptoInfo *info)
{
    const link_identity *self = t_signing;
    if (!self)
        return CRYPTOCB_UNAVAILABLE;
    ecc_key key;
    word32 idx = 0;
    int rc = wc_ecc_init(&key); /* no device: the software signature below */
    if (rc != 0)
        return rc;
    rc = wc_EccPrivateKeyDecode(self->key_der, &idx, &key, (word32)self->key_len);
    if (rc == 0)
        rc = wc_ecc_sign_hash(info->pk.eccsign.in, info->pk.eccsign.inlen, info->pk.eccsign.out,
                              info->pk.eccsign.outlen, info->pk.eccsign.rng, &key);
    wc_ecc_free(&key);
    return rc;
}

/* The device: signatures with the sending identity, and the sender's ephemeral key when
 * sealing (link_ephemeral.h); wolfSSL's own code for everything else. */
static int device_callback(int devId, wc_CryptoInfo *info, void *ctx)
{
    (void)devId;
    (void)ctx;
    if (info->algo_type != WC_ALGO_TYPE_PK)
        return CRYPTOCB_UNAVAILABLE;
    if (info->pk.type == WC_PK_TYPE_ECDSA_SIGN)
        return sign_with_identity(info);
    if (info->pk.type == WC_PK_TYPE_EC_KEYGEN)
        return link_ephemeral_keygen(info);
    if (info->pk.type == WC_PK_TYPE_ECDH)
        return link_ephemeral_ecdh(info);
    return CRYPTOCB_UNAVAILABLE;
}

static void devid_register(void)
{
    /* wolfCrypt_Init (reference-counted) readies the device table; nothing else here calls it. */
    devid_ok = wolfCrypt_Init() == 0 &&
               wc_CryptoCb_RegisterDevice(LINK_SIGN_DEVID, device_callback, NULL) == 0;
}

static void link_sign_device_init(void)
{
    pthread_once(&devid_once, devid_register);
}

/* The device for a PKCS7 of ours: LINK_SIGN_DEVID, or INVALID_DEVID (wolfSSL's own code for
 * everything) when it could not be registered. */
static int link_devid(void)
{
    link_sign_device_init();
    return devid_ok ? LINK_SIGN_DEVID : INVALID_DEVID;
}

static int sign_content(link_identity *self, uint8_t *content, size_t len, uint8_t **out,
                        size_t *out_len)
{
    PKCS7 p7s, *p7 = &p7s;
    size_t cap = len + self->cert_len + 1024;
    uint8_t *buf = malloc(cap);
    int rc = LINK_ERR_INTERNAL;
    if (p7_for_self(self, p7) != 0 || !buf || !(p7->rng = link_thread_rng()))
        goto done;
    p7->content = content;
    p7->contentSz = (word32)len;
    p7->contentOID = DATA;
    p7->hashOID = SHA256h;
    p7->encryptOID = ECDSAk;
    p7->devId = link_devid();
    if (p7->devId != INVALID_DEVID) {
        /* no private key: sign_callback signs */
        t_signing = self;
    } else {
        p7->privateKey = self->key_der;
        p7->privateKeySz = (word32)self->key_len;
    }
    int n = wc_PKCS7_EncodeSignedData(p7, buf, (word32)cap);
    t_signing = NULL;
    if (n > 0) {
        *out = buf;
        *out_len = (size_t)n;
        buf = NULL;
        rc = LINK_OK;
    }
done:
    wc_PKCS7_Free(p7);
    free(buf);
    return rc;
}

/* The user keying material of every envelope: random, so that each message's key-encryption
 * key is its own even while the sender's ephemeral key is kept (link_ephemeral.h). */
#define UKM_LEN 32

static int encrypt_to(const uint8_t *peer_cert, size_t peer_len, uint8_t *content, size_t len,
                      uint8_t **out, size_t *out_len)
{
    PKCS7 *p7 = wc_PKCS7_New(NULL, link_devid());
    size_t cap = len + peer_len + 1024;
    uint8_t *buf = malloc(cap), ukm[UKM_LEN];
    int rc = LINK_ERR_INTERNAL, n = -1;
    if (!p7 || !buf || wc_PKCS7_InitWithCert(p7, NULL, 0) != 0 || !(p7->rng = link_thread_rng()) ||
        wc_RNG_GenerateBlock(p7->rng, ukm, sizeof ukm) != 0 ||
        link_ephemeral_begin(peer_cert, peer_len) != 0)
        goto done;
    p7->content = content;
    p7->contentSz = (word32)len;
    p7->contentOID = SIGNED_DATA;
    p7->encryptOID = AES256GCMb;
    if (wc_PKCS7_AddRecipient_KARI(p7, peer_cert, (word32)peer_len, AES256_WRAP,
                                   dhSinglePass_stdDH_sha256kdf_scheme, ukm, sizeof ukm, 0) < 0) {
        link_ephemeral_end();
        rc = LINK_ERR_MALFORMED; /* not a P-256 certificate */
        goto done;
    }
    n = wc_PKCS7_EncodeAuthEnvelopedData(p7, buf, (word32)cap);
    link_ephemeral_end();
    if (n > 0) {
        *out = buf;
        *out_len = (size_t)n;
        buf = NULL;
        rc = LINK_OK;
    }
done:
    if (p7)
        wc_PKCS7_Free(p7);
    free(buf);
    return rc;
}

int link_seal(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
              const link_msg *m, uint8_t **out, size_t *out_len)
{
    uint8_t *msg = NULL, *signed_der = NULL;
    size_t msg_len = 0, signed_len = 0;
    int rc = link_msg_encode(m, &msg, &msg_len);
    if (rc)
        return rc;
    rc = sign_content(self, msg, msg_len, &signed_der, &signed_len);
    if (rc == LINK_OK)
        rc = encrypt_to(peer_cert, peer_cert_len, signed_der, signed_len, out, out_len);
    free(msg);
    free(signed_der);
    return rc;
}

/* ---- Opening ------------------------------------------------------------------------------ */

int link_unwrap(link_identity *self, const uint8_t *env, size_t env_len, uint8_t **signed_der,
                size_t *signed_len)
{
    if (env_len > LINK_MAX_MESSAGE + 65536)
        return LINK_ERR_TOO_LARGE;
    pki_der_item top;
    if (pki_der_single(env, env_len, &top) || top.tag != PKI_DER_SEQUENCE)
        return LINK_ERR_MALFORMED; /* wolfSSL is not asked to read what is not one element */
    PKCS7 p7s, *p7 = &p7s;
    uint8_t *in = malloc(env_len), *out = malloc(env_len);
    int rc = LINK_ERR_INTERNAL;
    if (p7_for_self(self, p7) != 0 || !in || !out)
        goto done;
    memcpy(in, env, env_len);
    p7->rng = link_thread_rng(); /* NULL: wolfSSL makes its own */
    p7->devId = link_devid();    /* the agreed secret, remembered per sender key */
    p7->privateKey = self->key_der;
    p7->privateKeySz = (word32)self->key_len;
    int n = wc_PKCS7_DecodeAuthEnvelopedData(p7, in, (word32)env_len, out, (word32)env_len);
    if (n > 0 && p7->contentOID == SIGNED_DATA) {
        *signed_der = out;
        *signed_len = (size_t)n;
        out = NULL;
        rc = LINK_OK;
    } else {
        rc = LINK_ERR_DECRYPT;
    }
done:
    wc_PKCS7_Free(p7);
    free(in);
    free(out);
    return rc;
}

/* Where a SignedData's parts are, for taking its certificates field out (without_certs). */
typedef struct {
    pki_der_item oid, wrapper, sd, certs; /* certs.raw is NULL when there is no such field */
    int plain;                            /* ContentInfo is exactly OID + [0] { SignedData } */
} signed_data_layout;

/* The certificates field of a SignedData: its elements, counted; the first returned. With
 * layout, also where the parts of the structure are. */
static int signed_data_certs_at(const uint8_t *der, size_t len, pki_der_item *first, int *count,
                                signed_data_layout *layout)
{
    pki_der_item top, it, sd, oid, wrapper;
    pki_der ci, s, certs, w;
    *count = 0;
    if (pki_der_single(der, len, &top) || top.tag != PKI_DER_SEQUENCE || pki_der_enter(&top, &ci) ||
        pki_der_expect(&ci, PKI_DER_OID, &oid) || !pki_der_oid_is(&oid, "1.2.840.113549.1.7.2") ||
        pki_der_expect(&ci, PKI_DER_CTX_CONS(0), &wrapper) || pki_der_enter(&wrapper, &w) ||
        pki_der_expect(&w, PKI_DER_SEQUENCE, &sd) || pki_der_enter(&sd, &s))
        return -1;
    if (layout) {
        memset(layout, 0, sizeof *layout);
        layout->oid = oid;
        layout->wrapper = wrapper;
        layout->sd = sd;
        layout->plain = pki_der_at_end(&ci) && pki_der_at_end(&w);
    }
    /* version, digestAlgorithms, encapContentInfo */
    if (pki_der_expect(&s, PKI_DER_INTEGER, &it) || pki_der_expect(&s, PKI_DER_SET, &it) ||
        pki_der_expect(&s, PKI_DER_SEQUENCE, &it))
        return -1;
    int r = pki_der_optional(&s, PKI_DER_CTX_CONS(0), &it);
    if (r)
        return r < 0 ? -1 : 0;
    if (layout)
        layout->certs = it;
    if (pki_der_enter(&it, &certs))
        return -1;
    pki_der_item c;
    while ((r = pki_der_next(&certs, &c)) == 0) {
        if (c.tag != PKI_DER_SEQUENCE)
            return -1;
        if ((*count)++ == 0)
            *first = c;
    }
    return r < 0 ? -1 : 0;
}

static int signed_data_certs(const uint8_t *der, size_t len, pki_der_item *first, int *count)
{
    return signed_data_certs_at(der, len, first, count, NULL);
}

/* The SignedData of layout without its certificates field. The signature does not cover that
 * field, so what verifies is unchanged; wolfSSL then takes the signer's key from the PKCS7 it
 * is given (a per-peer template) instead of parsing and fully validating the embedded
 * certificate on every message. 0, or -1 (out of memory, or a layout this does not rebuild). */
static int without_certs(const signed_data_layout *l, uint8_t **out, size_t *out_len)
{
    if (!l->plain || !l->certs.raw)
        return -1;
    const uint8_t *cut = l->certs.raw, *cut_end = l->certs.raw + l->certs.raw_len;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_raw(&w, l->oid.raw, l->oid.raw_len);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_raw(&w, l->sd.val, (size_t)(cut - l->sd.val));
    pki_derw_raw(&w, cut_end, (size_t)(l->sd.val + l->sd.len - cut_end));
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_end(&w);
    *out = pki_derw_take(&w, out_len);
    return *out ? 0 : -1;
}

/* ---- Per-peer templates: a PKCS7 made with wc_PKCS7_InitWithCert(peer) once ----------------
 * Kept for the life of the process (a message being verified may use a copy at any time); at
 * most PEER_TEMPLATES peers, beyond which verification takes the slow path. */
#define PEER_TEMPLATES 64

typedef struct {
    uint8_t *cert;
    size_t cert_len;
    PKCS7 tmpl;
} peer_template;

static peer_template g_peers[PEER_TEMPLATES];
static size_t g_npeers;
static pthread_mutex_t g_peers_lock = PTHREAD_MUTEX_INITIALIZER;

static const peer_template *peer_template_for(const uint8_t *cert, size_t len)
{
    const peer_template *found = NULL;
    pthread_mutex_lock(&g_peers_lock);
    for (size_t i = 0; i < g_npeers && !found; i++)
        if (g_peers[i].cert_len == len && memcmp(g_peers[i].cert, cert, len) == 0)
            found = &g_peers[i];
    if (!found && g_npeers < PEER_TEMPLATES) {
        peer_template *e = &g_peers[g_npeers];
        if ((e->cert = malloc(len)) != NULL) {
            memcpy(e->cert, cert, len);
            if (p7_template_make(&e->tmpl, e->cert, len) == 0) {
                e->cert_len = len;
                found = e;
                g_npeers++;
            } else {
                free(e->cert);
                e->cert = NULL;
            }
        }
    }
    pthread_mutex_unlock(&g_peers_lock);
    return found;
}

/* The fast path of link_verify: the SignedData's one certificate is the pinned one, so the
 * signature is verified with the pinned key from its template. LINK_OK with *content set, a
 * LINK_ERR_* of verification, or 1: not taken (the caller goes the slow way). */
static int verify_pinned(const signed_data_layout *l, const uint8_t *pinned_cert, size_t pinned_len,
                         uint8_t **content, size_t *content_len)
{
    const peer_template *t = peer_template_for(pinned_cert, pinned_len);
    uint8_t *in = NULL;
    size_t in_len;
    if (!t || without_certs(l, &in, &in_len) != 0)
        return 1;
    PKCS7 p7s, *p7 = &p7s;
    p7_copy(&t->tmpl, p7);
    int rc;
    if (wc_PKCS7_VerifySignedData(p7, in, (word32)in_len) != 0)
        rc = LINK_ERR_SIGNATURE;
    else if (!p7->content || p7->contentSz == 0)
        rc = LINK_ERR_MALFORMED;
    else if (!(*content = malloc(p7->contentSz)))
        rc = LINK_ERR_INTERNAL;
    else {
        memcpy(*content, p7->content, p7->contentSz);
        *content_len = p7->contentSz;
        rc = LINK_OK;
    }
    wc_PKCS7_Free(p7);
    free(in);
    return rc;
}

int link_peek_signer(const uint8_t *signed_der, size_t signed_len, uint8_t **cert, size_t *cert_len)
{
    pki_der_item first;
    int count;
    if (signed_data_certs(signed_der, signed_len, &first, &count) || count != 1)
        return LINK_ERR_MALFORMED;
    if (!(*cert = malloc(first.raw_len)))
        return LINK_ERR_INTERNAL;
    memcpy(*cert, first.raw, first.raw_len);
    *cert_len = first.raw_len;
    return LINK_OK;
}

int link_verify(const uint8_t *signed_der, size_t signed_len, const uint8_t *pinned_cert,
                size_t pinned_len, link_msg *m, uint8_t **content, size_t *content_len)
{
    pki_der_item first;
    int count;
    signed_data_layout layout;
    /* Exactly one certificate, so the key that verifies is the certificate compared below. */
    if (signed_data_certs_at(signed_der, signed_len, &first, &count, &layout) || count != 1)
        return LINK_ERR_MALFORMED;
    if (first.raw_len == pinned_len && memcmp(first.raw, pinned_cert, pinned_len) == 0) {
        uint8_t *copy = NULL;
        size_t copy_len = 0;
        int fast = verify_pinned(&layout, pinned_cert, pinned_len, &copy, &copy_len);
        if (fast != 1) {
            if (fast == LINK_OK && (fast = link_msg_decode(copy, copy_len, m)) == LINK_OK) {
                *content = copy;
                *content_len = copy_len;
                return LINK_OK;
            }
            free(copy);
            return fast;
        }
    }
    PKCS7 *p7 = wc_PKCS7_New(NULL, INVALID_DEVID);
    uint8_t *in = malloc(signed_len);
    int rc = LINK_ERR_INTERNAL;
    if (!p7 || !in || wc_PKCS7_InitWithCert(p7, NULL, 0) != 0)
        goto done;
    memcpy(in, signed_der, signed_len);
    if (wc_PKCS7_VerifySignedData(p7, in, (word32)signed_len) != 0) {
        rc = LINK_ERR_SIGNATURE;
        goto done;
    }
    if (!p7->verifyCert || p7->verifyCertSz != pinned_len ||
        memcmp(p7->verifyCert, pinned_cert, pinned_len) != 0 || first.raw_len != pinned_len ||
        memcmp(first.raw, pinned_cert, pinned_len) != 0) {
        rc = LINK_ERR_WRONG_SIGNER;
        goto done;
    }
    if (!p7->content || p7->contentSz == 0) {
        rc = LINK_ERR_MALFORMED;
        goto done;
    }
    uint8_t *copy = malloc(p7->contentSz);
    if (!copy)
        goto done;
    memcpy(copy, p7->content, p7->contentSz);
    rc = link_msg_decode(copy, p7->contentSz, m);
    if (rc) {
        free(copy);
        goto done;
    }
    *content = copy;
    *content_len = p7->contentSz;
done:
    if (p7)
        wc_PKCS7_Free(p7);
    free(in);
    return rc;
}

int link_check(const link_msg *m, const char *self_name, const char *expected_sender,
               link_replay *replay, int64_t now)
{
    if (expected_sender && strcmp(m->sender, expected_sender) != 0)
        return LINK_ERR_WRONG_SENDER;
    if (strcmp(m->recipient, self_name) != 0)
        return LINK_ERR_WRONG_RECIPIENT;
    if (m->expires <= m->issued || m->expires - m->issued > LINK_MAX_LIFETIME)
        return LINK_ERR_LIFETIME;
    if (m->issued > now + LINK_CLOCK_SKEW)
        return LINK_ERR_NOT_YET_VALID;
    if (m->expires + LINK_CLOCK_SKEW <= now)
        return LINK_ERR_EXPIRED;
    if (replay)
        return link_replay_check(replay, m->sender, m->type, m->request_id,
                                 m->expires + LINK_CLOCK_SKEW, now);
    return LINK_OK;
}

int link_open(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
              const char *peer_name, link_replay *replay, const uint8_t *env, size_t env_len,
              link_msg *m, uint8_t **content, size_t *content_len)
{
    uint8_t *signed_der = NULL;
    size_t signed_len = 0;
    *content = NULL;
    int rc = link_unwrap(self, env, env_len, &signed_der, &signed_len);
    if (rc == LINK_OK)
        rc = link_verify(signed_der, signed_len, peer_cert, peer_cert_len, m, content, content_len);
    free(signed_der);
    if (rc == LINK_OK)
        rc = link_check(m, self->name, peer_name, replay, pki_now());
    if (rc != LINK_OK) {
        free(*content);
        *content = NULL;
    }
    return rc;
}
