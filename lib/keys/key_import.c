/* Private key import: PEM or DER in the forms openssl writes. The structure is classified with
 * our DER reader (so errors can say what the input is), then wolfCrypt decodes the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der/der_reader.h"
#include "keys/key_impl.h"

#define OID_RSA "1.2.840.113549.1.1.1"
#define OID_RSA_PSS "1.2.840.113549.1.1.10"
#define OID_EC "1.2.840.10045.2.1"
#define OID_ED25519 "1.3.101.112"
#define OID_PBES2 "1.2.840.113549.1.5.13"
#define OID_PBKDF2 "1.2.840.113549.1.5.12"

static const struct {
    const char *oid;
    const char *name;
    pki_key_type type; /* 0: recognised but unsupported */
} CURVES[] = {
    {"1.2.840.10045.3.1.7", "P-256", PKI_KEY_EC_P256},
    {"1.3.132.0.34", "P-384", PKI_KEY_EC_P384},
    {"1.3.132.0.35", "P-521", PKI_KEY_EC_P521},
    {"1.3.132.0.10", "secp256k1", 0},
    {"1.2.840.10045.3.1.1", "P-192", 0},
    {"1.3.132.0.33", "P-224", 0},
    {"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 0},
    {"1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 0},
    {"1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 0},
    {"1.2.156.10197.1.301", "SM2", 0},
};

static const struct {
    const char *oid;
    const char *name;
} OTHER_ALGS[] = {
    {"1.3.101.113", "Ed448"},       {"1.3.101.110", "X25519"},
    {"1.3.101.111", "X448"},        {"1.2.840.10040.4.1", "DSA"},
    {"1.2.840.113549.1.3.1", "DH"}, {OID_RSA_PSS, "RSASSA-PSS (restricted RSA key)"},
};

/* Maps an EC parameters element (a named-curve OID) to a key type, or explains why not. */
static int curve_type(const pki_der_item *params, pki_key_type *type, char *err, size_t errlen)
{
    if (params->tag == PKI_DER_SEQUENCE) {
        pki_key_errf(err, errlen,
                     "explicit EC curve parameters are not supported (use a named "
                     "curve: P-256, P-384 or P-521)");
        return -1;
    }
    char oid[64];
    if (pki_der_oid_text(params, oid, sizeof oid) != 0) {
        pki_key_errf(err, errlen, "malformed EC key: bad curve parameters");
        return -1;
    }
    for (size_t i = 0; i < sizeof CURVES / sizeof CURVES[0]; i++)
        if (strcmp(CURVES[i].oid, oid) == 0) {
            if (!CURVES[i].type) {
                pki_key_errf(err, errlen, "unsupported curve %s", CURVES[i].name);
                return -1;
            }
            *type = CURVES[i].type;
            return 0;
        }
    pki_key_errf(err, errlen, "unsupported curve %s", oid);
    return -1;
}

enum key_form { FORM_PKCS8, FORM_PKCS1, FORM_SEC1, FORM_ENCRYPTED };

/* Looks at the outer structure: what kind of key container this is, and for PKCS#8 / SEC1
 * which key type it holds. */
static int classify(const uint8_t *der, size_t len, enum key_form *form, pki_key_type *type,
                    char *err, size_t errlen)
{
    pki_der_item top, first, second, alg_oid, params;
    pki_der body, alg;
    if (pki_der_single(der, len, &top) != 0 || top.tag != PKI_DER_SEQUENCE) {
        pki_key_errf(err, errlen, "not a private key (not a DER SEQUENCE)");
        return -1;
    }
    pki_der_enter(&top, &body);
    if (pki_der_next(&body, &first) != 0 || pki_der_next(&body, &second) != 0) {
        pki_key_errf(err, errlen, "not a private key (malformed)");
        return -1;
    }
    if (first.tag == PKI_DER_SEQUENCE && second.tag == PKI_DER_OCTET_STRING) {
        *form = FORM_ENCRYPTED;
        return 0;
    }
    if (first.tag == PKI_DER_SEQUENCE && second.tag == PKI_DER_BIT_STRING) {
        pki_key_errf(err, errlen, "not a private key (this is a public key)");
        return -1;
    }
    if (first.tag == PKI_DER_SEQUENCE) {
        pki_key_errf(err, errlen, "not a private key (looks like a certificate, CSR or CRL)");
        return -1;
    }
    long version;
    if (pki_der_int_long(&first, &version) != 0) {
        pki_key_errf(err, errlen, "not a private key (malformed)");
        return -1;
    }
    if (version == 0 && second.tag == PKI_DER_INTEGER) {
        *form = FORM_PKCS1;
        *type = PKI_KEY_RSA;
        return 0;
    }
    if (version == 1 && second.tag == PKI_DER_OCTET_STRING) {
        /* SEC1 ECPrivateKey: the curve is in [0] parameters. */
        pki_der_item p0;
        pki_der inner;
        if (pki_der_enter_expect(&body, PKI_DER_CTX_CONS(0), &inner, &p0) != 0 ||
            pki_der_next(&inner, &params) != 0) {
            pki_key_errf(err, errlen, "EC private key without curve parameters");
            return -1;
        }
        *form = FORM_SEC1;
        return curve_type(&params, type, err, errlen);
    }
    if ((version == 0 || version == 1) && second.tag == PKI_DER_SEQUENCE) {
        *form = FORM_PKCS8;
        pki_der_enter(&second, &alg);
        char oid[64];
        if (pki_der_expect(&alg, PKI_DER_OID, &alg_oid) != 0 ||
            pki_der_oid_text(&alg_oid, oid, sizeof oid) != 0) {
            pki_key_errf(err, errlen, "malformed PKCS#8 key: bad algorithm");
            return -1;
        }
        if (strcmp(oid, OID_RSA) == 0) {
            *type = PKI_KEY_RSA;
            return 0;
        }
        if (strcmp(oid, OID_ED25519) == 0) {
            *type = PKI_KEY_ED25519;
            return 0;
        }
        if (strcmp(oid, OID_EC) == 0) {
            if (pki_der_next(&alg, &params) != 0) {
                pki_key_errf(err, errlen, "EC private key without curve parameters");
                return -1;
            }
            return curve_type(&params, type, err, errlen);
        }
        for (size_t i = 0; i < sizeof OTHER_ALGS / sizeof OTHER_ALGS[0]; i++)
            if (strcmp(OTHER_ALGS[i].oid, oid) == 0) {
                pki_key_errf(err, errlen, "unsupported key algorithm %s", OTHER_ALGS[i].name);
                return -1;
            }
        pki_key_errf(err, errlen, "unsupported key algorithm %s", oid);
        return -1;
    }
    pki_key_errf(err, errlen, "not a private key (unrecognised structure)");
    return -1;
}

/* Checks the encryption scheme before trying the password, so a wrong password and an
 * unsupported scheme are told apart. */
static int check_pbes2(const uint8_t *der, size_t len, char *err, size_t errlen)
{
    pki_der_item top, oid, kdf_oid, it;
    pki_der body, alg, params, kdf;
    if (pki_der_single(der, len, &top) != 0 || pki_der_enter(&top, &body) != 0 ||
        pki_der_enter_expect(&body, PKI_DER_SEQUENCE, &alg, NULL) != 0 ||
        pki_der_expect(&alg, PKI_DER_OID, &oid) != 0) {
        pki_key_errf(err, errlen, "malformed encrypted key");
        return -1;
    }
    char text[64];
    if (!pki_der_oid_is(&oid, OID_PBES2)) {
        if (pki_der_oid_text(&oid, text, sizeof text) != 0)
            strcpy(text, "?");
        pki_key_errf(err, errlen,
                     "encrypted key: unsupported scheme %s (PBES2 is supported: openssl pkcs8 "
                     "-topk8 -v2 aes-256-cbc)",
                     text);
        return -1;
    }
    if (pki_der_enter_expect(&alg, PKI_DER_SEQUENCE, &params, NULL) != 0 ||
        pki_der_enter_expect(&params, PKI_DER_SEQUENCE, &kdf, NULL) != 0 ||
        pki_der_expect(&kdf, PKI_DER_OID, &kdf_oid) != 0 || pki_der_next(&params, &it) != 0) {
        pki_key_errf(err, errlen, "malformed encrypted key: bad PBES2 parameters");
        return -1;
    }
    if (!pki_der_oid_is(&kdf_oid, OID_PBKDF2)) {
        pki_key_errf(err, errlen,
                     "encrypted key: unsupported key derivation (PBKDF2 is "
                     "supported, scrypt is not)");
        return -1;
    }
    /* The iteration count comes from the input: bound it so a hostile key cannot make us
     * spin for minutes before the password is even checked. */
    pki_der kp;
    pki_der_item salt, iter;
    uint64_t n;
    if (pki_der_enter_expect(&kdf, PKI_DER_SEQUENCE, &kp, NULL) != 0 ||
        pki_der_expect(&kp, PKI_DER_OCTET_STRING, &salt) != 0 ||
        pki_der_expect(&kp, PKI_DER_INTEGER, &iter) != 0 || pki_der_int_u64(&iter, &n) != 0 ||
        n == 0) {
        pki_key_errf(err, errlen, "malformed encrypted key: bad PBKDF2 parameters");
        return -1;
    }
    if (n > PKI_PKCS8_MAX_ITERATIONS) {
        pki_key_errf(err, errlen,
                     "encrypted key: %llu PBKDF2 iterations is more than the %d "
                     "accepted",
                     (unsigned long long)n, PKI_PKCS8_MAX_ITERATIONS);
        return -1;
    }
    return 0;
}

static int decode_into(pki_key *k, const uint8_t *der, size_t len, char *err, size_t errlen)
{
    word32 idx = 0;
    int rc;
    switch (k->type) {
    case PKI_KEY_RSA:
        if (wc_InitRsaKey(&k->u.rsa, NULL) != 0)
            break;
        k->key_ok = 1;
        if (wc_RsaPrivateKeyDecode(der, &idx, &k->u.rsa, (word32)len) != 0) {
            pki_key_errf(err, errlen, "malformed RSA private key");
            return -1;
        }
        rc = wc_RsaEncryptSize(&k->u.rsa) * 8;
        if (rc < 2048 || rc > 4096) {
            pki_key_errf(err, errlen, "RSA key of %d bits is %s (2048 to 4096 are supported)", rc,
                         rc < 2048 ? "too small" : "too large");
            return -1;
        }
        return 0;
    case PKI_KEY_EC_P256:
    case PKI_KEY_EC_P384:
    case PKI_KEY_EC_P521:
        if (wc_ecc_init(&k->u.ecc) != 0)
            break;
        k->key_ok = 1;
        if (wc_EccPrivateKeyDecode(der, &idx, &k->u.ecc, (word32)len) != 0 || !k->u.ecc.dp ||
            k->u.ecc.dp->id != pki_key_curve_id(k->type)) {
            pki_key_errf(err, errlen, "malformed EC private key");
            return -1;
        }
        if (k->u.ecc.type == ECC_PRIVATEKEY_ONLY && wc_ecc_make_pub(&k->u.ecc, NULL) != 0) {
            pki_key_errf(err, errlen, "EC private key: cannot derive the public key");
            return -1;
        }
        if (wc_ecc_check_key(&k->u.ecc) != 0) {
            pki_key_errf(err, errlen, "EC private key is invalid (public key does not match)");
            return -1;
        }
        return 0;
    case PKI_KEY_ED25519:
        if (wc_ed25519_init(&k->u.ed) != 0)
            break;
        k->key_ok = 1;
        if (wc_Ed25519PrivateKeyDecode(der, &idx, &k->u.ed, (word32)len) != 0) {
            pki_key_errf(err, errlen, "malformed Ed25519 private key");
            return -1;
        }
        if (!k->u.ed.pubKeySet) {
            /* PKCS#8 without the optional public key (what openssl writes). */
            uint8_t pub[ED25519_PUB_KEY_SIZE], priv[ED25519_KEY_SIZE];
            memcpy(priv, k->u.ed.k, sizeof priv);
            rc = wc_ed25519_make_public(&k->u.ed, pub, sizeof pub);
            if (rc == 0)
                rc = wc_ed25519_import_private_key(priv, sizeof priv, pub, sizeof pub, &k->u.ed);
            pki_secure_zero(priv, sizeof priv);
            if (rc != 0) {
                pki_key_errf(err, errlen, "Ed25519 private key: cannot derive the public key");
                return -1;
            }
        } else if (wc_ed25519_check_key(&k->u.ed) != 0) {
            pki_key_errf(err, errlen,
                         "Ed25519 private key is invalid (public key does not "
                         "match)");
            return -1;
        }
        return 0;
    }
    pki_key_errf(err, errlen, "out of memory");
    return -1;
}

/* Signs and verifies a fixed message, so a key whose halves do not belong together (corrupt or
 * tampered RSA CRT values, a wrong embedded public key) is refused at import, not at use. */
static int pairwise_check(pki_key *k)
{
    static const uint8_t msg[] = "pki key import pairwise consistency check";
    uint8_t *sig;
    size_t sig_len;
    pki_sig_alg alg = pki_sig_alg_default(k->type);
    if (pki_key_sign(k, alg, msg, sizeof msg, &sig, &sig_len) != PKI_SIGN_OK)
        return -1;
    int rc = pki_spki_verify(k->spki, k->spki_len, alg, msg, sizeof msg, sig, sig_len);
    free(sig);
    return rc;
}

static pki_key *import_der(const uint8_t *der, size_t len, const char *password, int depth,
                           char *err, size_t errlen)
{
    enum key_form form;
    pki_key_type type = 0;
    if (classify(der, len, &form, &type, err, errlen) != 0)
        return NULL;
    if (form == FORM_ENCRYPTED) {
        if (depth > 0) {
            pki_key_errf(err, errlen, "malformed encrypted key (nested encryption)");
            return NULL;
        }
        if (check_pbes2(der, len, err, errlen) != 0)
            return NULL;
        if (!password) {
            pki_key_errf(err, errlen, "encrypted key: password required");
            return NULL;
        }
        uint8_t *buf = malloc(len);
        if (!buf) {
            pki_key_errf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(buf, der, len);
        int n = wc_DecryptPKCS8Key(buf, (word32)len, password, (int)strlen(password));
        pki_key *k = NULL;
        if (n <= 0)
            pki_key_errf(err, errlen, "encrypted key: wrong password");
        else {
            /* A wrong password still "decrypts" now and then (the CBC padding comes out valid
             * by chance, about once in 256 tries) into bytes that are no key: that is a wrong
             * password too, whatever the key parser makes of them. */
            k = import_der(buf, (size_t)n, NULL, depth + 1, err, errlen);
            if (!k)
                pki_key_errf(err, errlen, "encrypted key: wrong password");
        }
        pki_secret_free(buf, len);
        return k;
    }
    pki_key *k = pki_key_alloc(type, err, errlen);
    if (!k)
        return NULL;
    if (decode_into(k, der, len, err, errlen) != 0 || pki_key_finish(k, err, errlen) != 0) {
        pki_key_free(k);
        return NULL;
    }
    if (pairwise_check(k) != 0) {
        pki_key_errf(err, errlen,
                     "%s private key is inconsistent (its signature does not verify "
                     "with its public key)",
                     pki_key_type_name(type));
        pki_key_free(k);
        return NULL;
    }
    return k;
}

static const char *const KEY_LABELS[] = {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY",
                                         "EC PRIVATE KEY"};

static pki_key *import_pem(const char *text, size_t len, const char *password, char *err,
                           size_t errlen)
{
    if (memmem(text, len, "Proc-Type:", 10)) {
        pki_key_errf(err, errlen,
                     "legacy PEM encryption (Proc-Type) is not supported; convert "
                     "with: openssl pkcs8 -topk8 -v2 aes-256-cbc");
        return NULL;
    }
    size_t pos = 0;
    char first_label[80] = "";
    for (;;) {
        uint8_t *der = NULL;
        size_t der_len = 0, end = 0;
        char label[80];
        int rc =
            pki_pem_decode(text + pos, len - pos, NULL, &der, &der_len, label, sizeof label, &end);
        if (rc != 0) {
            if (rc < 0)
                pki_key_errf(err, errlen, "malformed PEM block");
            else if (first_label[0])
                pki_key_errf(err, errlen, "not a private key (PEM %s)", first_label);
            else
                pki_key_errf(err, errlen, "no PEM block found");
            return NULL;
        }
        int is_key = 0;
        for (size_t i = 0; i < sizeof KEY_LABELS / sizeof KEY_LABELS[0]; i++)
            is_key |= strcmp(label, KEY_LABELS[i]) == 0;
        if (is_key) {
            pki_key *k = import_der(der, der_len, password, 0, err, errlen);
            pki_secret_free(der, der_len);
            return k;
        }
        /* Not a key block ("EC PARAMETERS" before a SEC1 key, a certificate in a bundle):
         * look further, but remember it for the error. */
        if (!first_label[0] && strcmp(label, "EC PARAMETERS") != 0)
            snprintf(first_label, sizeof first_label, "%s", label);
        pki_secret_free(der, der_len);
        pos += end;
    }
}

pki_key *pki_key_import(const uint8_t *data, size_t len, const char *password, char *err,
                        size_t errlen)
{
    if (!data || len == 0) {
        pki_key_errf(err, errlen, "empty key");
        return NULL;
    }
    if (len > 1 << 20) {
        pki_key_errf(err, errlen, "not a private key (too large)");
        return NULL;
    }
    if (memmem(data, len, "-----BEGIN ", 11))
        return import_pem((const char *)data, len, password, err, errlen);
    return import_der(data, len, password, 0, err, errlen);
}
