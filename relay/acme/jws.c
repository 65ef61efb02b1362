/* JWS parsing and verification for ACME. Strict: a message that parses has one meaning. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "acme/jws.h"
#include "der/der_writer.h"
#include "keys/keys.h"
#include "util/encoding.h"

static jws_status fail(char *err, size_t errlen, jws_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static jws_status fail(char *err, size_t errlen, jws_status st, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

void jws_msg_free(jws_msg *m)
{
    if (!m)
        return;
    if (m->protected_hdr)
        json_decref(m->protected_hdr);
    free(m->payload);
    free(m->sig);
    free(m->signing_input);
    memset(m, 0, sizeof *m);
}

/* A string member that must be base64url; its raw text in *text. */
static const char *b64_member(json_t *obj, const char *key, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

static int b64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    if (len == 0) {
        *out = calloc(1, 1);
        *out_len = 0;
        return *out ? 0 : -1;
    }
    uint8_t *raw = NULL;
    size_t n = 0;
    if (pki_base64url_decode(text, len, &raw, &n) != 0)
        return -1;
    uint8_t *t = realloc(raw, n + 1); /* room for a NUL so payloads read as text */
    if (!t) {
        free(raw);
        return -1;
    }
    t[n] = 0;
    *out = t;
    *out_len = n;
    return 0;
}

static const char *opt_string(json_t *hdr, const char *key, bool *bad)
{
    json_t *v = json_object_get(hdr, key);
    if (!v)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

jws_status jws_parse_json(json_t *obj, jws_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!json_is_object(obj))
        return fail(err, errlen, JWS_MALFORMED, "the JWS must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        (void)val;
        if (strcmp(key, "protected") != 0 && strcmp(key, "payload") != 0 &&
            strcmp(key, "signature") != 0)
            return fail(err, errlen, JWS_MALFORMED,
                        "the JWS must use the flattened JSON serialization without '%.32s'", key);
    }
    size_t plen = 0, ylen = 0, slen = 0;
    const char *p = b64_member(obj, "protected", &plen);
    const char *y = b64_member(obj, "payload", &ylen);
    const char *s = b64_member(obj, "signature", &slen);
    if (!p || !y || !s)
        return fail(err, errlen, JWS_MALFORMED,
                    "the JWS needs string members protected, payload and signature");
    uint8_t *hdr_raw = NULL;
    size_t hdr_len = 0;
    if (plen == 0 || b64_decode(p, plen, &hdr_raw, &hdr_len) != 0)
        return fail(err, errlen, JWS_MALFORMED, "the protected header is not base64url");
    json_error_t jerr;
    m->protected_hdr = json_loadb((const char *)hdr_raw, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
    free(hdr_raw);
    if (!json_is_object(m->protected_hdr)) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED, "the protected header is not a JSON object");
    }
    if (b64_decode(y, ylen, &m->payload, &m->payload_len) != 0 ||
        b64_decode(s, slen, &m->sig, &m->sig_len) != 0) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED, "payload or signature is not base64url");
    }
    m->signing_input_len = plen + 1 + ylen;
    m->signing_input = malloc(m->signing_input_len + 1);
    if (!m->signing_input) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED, "out of memory");
    }
    memcpy(m->signing_input, p, plen);
    m->signing_input[plen] = '.';
    memcpy(m->signing_input + plen + 1, y, ylen);
    m->signing_input[m->signing_input_len] = 0;

    bool bad = false;
    const char *alg = opt_string(m->protected_hdr, "alg", &bad);
    m->nonce = opt_string(m->protected_hdr, "nonce", &bad);
    m->url = opt_string(m->protected_hdr, "url", &bad);
    m->kid = opt_string(m->protected_hdr, "kid", &bad);
    m->jwk = json_object_get(m->protected_hdr, "jwk");
    if (bad || !alg || strlen(alg) >= sizeof m->alg) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED,
                    "the protected header needs 'alg', and nonce/url/kid must be strings");
    }
    snprintf(m->alg, sizeof m->alg, "%s", alg);
    if (m->jwk && !json_is_object(m->jwk)) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED, "'jwk' must be a JSON object");
    }
    /* RFC 7515 4.1.11: we understand no extensions, so any "crit" is refused. */
    if (json_object_get(m->protected_hdr, "crit")) {
        jws_msg_free(m);
        return fail(err, errlen, JWS_MALFORMED, "'crit' header parameters are not supported");
    }
    return JWS_OK;
}

jws_status jws_parse(const uint8_t *body, size_t len, jws_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return fail(err, errlen, JWS_MALFORMED, "the body is not JSON: %s", jerr.text);
    jws_status st = jws_parse_json(obj, out, err, errlen);
    json_decref(obj);
    return st;
}

jws_status jws_alg_for_key(const char *alg, pki_key_type key, pki_sig_alg *out)
{
    if (strcmp(alg, "RS256") == 0 && key == PKI_KEY_RSA)
        *out = PKI_SIG_RSA_PKCS1_SHA256;
    else if (strcmp(alg, "ES256") == 0 && key == PKI_KEY_EC_P256)
        *out = PKI_SIG_ECDSA_SHA256;
    else if (strcmp(alg, "ES384") == 0 && key == PKI_KEY_EC_P384)
        *out = PKI_SIG_ECDSA_SHA384;
    else if (strcmp(alg, "EdDSA") == 0 && key == PKI_KEY_ED25519)
        *out = PKI_SIG_ED25519;
    else
        return JWS_BAD_ALG;
    return JWS_OK;
}

/* A required base64url member of a JWK, decoded. */
static int jwk_bytes(json_t *jwk, const char *key, uint8_t **out, size_t *len)
{
    size_t tlen;
    const char *t = b64_member(jwk, key, &tlen);
    if (!t || tlen == 0)
        return -1;
    return pki_base64url_decode(t, tlen, out, len);
}

static const char *jwk_str(json_t *jwk, const char *key)
{
    json_t *v = json_object_get(jwk, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void alg_id(pki_der_writer *w, const char *oid, const char *param_oid, int null_param)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, oid);
    if (param_oid)
        pki_derw_oid(w, param_oid);
    if (null_param)
        pki_derw_null(w);
    pki_derw_end(w);
}

static jws_status spki_rsa(json_t *jwk, pki_der_writer *w, char *err, size_t errlen)
{
    uint8_t *n = NULL, *e = NULL;
    size_t nlen = 0, elen = 0;
    if (jwk_bytes(jwk, "n", &n, &nlen) != 0 || jwk_bytes(jwk, "e", &e, &elen) != 0) {
        free(n);
        free(e);
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "RSA JWK needs base64url 'n' and 'e'");
    }
    /* RFC 7518 6.3.1: no leading zero octets. */
    if (n[0] == 0 || e[0] == 0 || nlen < 256 || nlen > 512 || elen > 8) {
        free(n);
        free(e);
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY,
                    "RSA JWK: modulus must be 2048 to 4096 bits without leading zeros");
    }
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    alg_id(w, "1.2.840.113549.1.1.1", NULL, 1);
    pki_der_writer inner;
    pki_derw_init(&inner);
    pki_derw_begin(&inner, PKI_DER_SEQUENCE);
    pki_derw_uint_be(&inner, PKI_DER_INTEGER, n, nlen);
    pki_derw_uint_be(&inner, PKI_DER_INTEGER, e, elen);
    pki_derw_end(&inner);
    size_t klen = 0;
    uint8_t *k = pki_derw_take(&inner, &klen);
    free(n);
    free(e);
    if (!k)
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "out of memory");
    pki_derw_bit_string(w, k, klen, 0);
    free(k);
    pki_derw_end(w);
    return JWS_OK;
}

static jws_status spki_ec(json_t *jwk, pki_der_writer *w, pki_key_type *type, char *err,
                          size_t errlen)
{
    const char *crv = jwk_str(jwk, "crv");
    size_t clen;
    const char *curve_oid;
    if (crv && strcmp(crv, "P-256") == 0) {
        clen = 32;
        curve_oid = "1.2.840.10045.3.1.7";
        *type = PKI_KEY_EC_P256;
    } else if (crv && strcmp(crv, "P-384") == 0) {
        clen = 48;
        curve_oid = "1.3.132.0.34";
        *type = PKI_KEY_EC_P384;
    } else {
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "EC JWK: curve must be P-256 or P-384");
    }
    uint8_t *x = NULL, *y = NULL;
    size_t xl = 0, yl = 0;
    if (jwk_bytes(jwk, "x", &x, &xl) != 0 || jwk_bytes(jwk, "y", &y, &yl) != 0 || xl != clen ||
        yl != clen) {
        free(x);
        free(y);
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "EC JWK: 'x' and 'y' must be %zu octets",
                    clen);
    }
    uint8_t pt[1 + 2 * 48];
    pt[0] = 0x04;
    memcpy(pt + 1, x, clen);
    memcpy(pt + 1 + clen, y, clen);
    free(x);
    free(y);
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    alg_id(w, "1.2.840.10045.2.1", curve_oid, 0);
    pki_derw_bit_string(w, pt, 1 + 2 * clen, 0);
    pki_derw_end(w);
    return JWS_OK;
}

static jws_status spki_okp(json_t *jwk, pki_der_writer *w, char *err, size_t errlen)
{
    const char *crv = jwk_str(jwk, "crv");
    if (!crv || strcmp(crv, "Ed25519") != 0)
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "OKP JWK: only Ed25519 is supported");
    uint8_t *x = NULL;
    size_t xl = 0;
    if (jwk_bytes(jwk, "x", &x, &xl) != 0 || xl != 32) {
        free(x);
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "Ed25519 JWK: 'x' must be 32 octets");
    }
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    alg_id(w, "1.3.101.112", NULL, 0);
    pki_derw_bit_string(w, x, xl, 0);
    pki_derw_end(w);
    free(x);
    return JWS_OK;
}

jws_status jwk_to_spki(json_t *jwk, uint8_t **spki, size_t *spki_len, pki_key_type *type, char *err,
                       size_t errlen)
{
    *spki = NULL;
    if (!json_is_object(jwk))
        return fail(err, errlen, JWS_MALFORMED, "the JWK must be a JSON object");
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof private_members / sizeof private_members[0]; i++)
        if (json_object_get(jwk, private_members[i]))
            return fail(err, errlen, JWS_BAD_PUBLIC_KEY,
                        "the JWK holds private key material ('%s')", private_members[i]);
    const char *kty = jwk_str(jwk, "kty");
    pki_der_writer w;
    pki_derw_init(&w);
    jws_status st;
    if (kty && strcmp(kty, "RSA") == 0) {
        *type = PKI_KEY_RSA;
        st = spki_rsa(jwk, &w, err, errlen);
    } else if (kty && strcmp(kty, "EC") == 0) {
        st = spki_ec(jwk, &w, type, err, errlen);
    } else if (kty && strcmp(kty, "OKP") == 0) {
        *type = PKI_KEY_ED25519;
        st = spki_okp(jwk, &w, err, errlen);
    } else {
        st = fail(err, errlen, JWS_BAD_PUBLIC_KEY, "JWK 'kty' must be RSA, EC or OKP");
    }
    if (st != JWS_OK) {
        pki_derw_free(&w);
        return st;
    }
    *spki = pki_derw_take(&w, spki_len);
    if (!*spki)
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "cannot encode the key");
    /* Let the key layer confirm it can use the key (RSA size, point on the curve). */
    pki_key_type t2;
    unsigned bits;
    char why[128];
    if (pki_spki_info(*spki, *spki_len, &t2, &bits, why, sizeof why) != 0 || t2 != *type) {
        free(*spki);
        *spki = NULL;
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "unusable key: %s", why);
    }
    return JWS_OK;
}

int jws_sha256_b64url(const char *data, size_t len, char out[JWK_THUMBPRINT_LEN])
{
    uint8_t h[32];
    if (wc_Sha256Hash((const byte *)data, (word32)len, h) != 0)
        return -1;
    char *b = pki_base64url_encode(h, sizeof h);
    if (!b || strlen(b) >= JWK_THUMBPRINT_LEN) {
        free(b);
        return -1;
    }
    memcpy(out, b, strlen(b) + 1);
    free(b);
    return 0;
}

jws_status jwk_thumbprint(json_t *jwk, char out[JWK_THUMBPRINT_LEN], char *err, size_t errlen)
{
    const char *kty = jwk_str(jwk, "kty");
    json_t *canon = json_object();
    const char *const *members;
    static const char *const rsa[] = {"e", "kty", "n", NULL};
    static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
    static const char *const okp[] = {"crv", "kty", "x", NULL};
    if (kty && strcmp(kty, "RSA") == 0)
        members = rsa;
    else if (kty && strcmp(kty, "EC") == 0)
        members = ec;
    else if (kty && strcmp(kty, "OKP") == 0)
        members = okp;
    else {
        json_decref(canon);
        return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "JWK 'kty' must be RSA, EC or OKP");
    }
    for (size_t i = 0; members[i]; i++) {
        json_t *v = json_object_get(jwk, members[i]);
        if (!json_is_string(v)) {
            json_decref(canon);
            return fail(err, errlen, JWS_BAD_PUBLIC_KEY, "JWK lacks '%s'", members[i]);
        }
        json_object_set(canon, members[i], v);
    }
    /* RFC 7638 3: members in lexicographic order, no whitespace. */
    char *text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(canon);
    int rc = text ? jws_sha256_b64url(text, strlen(text), out) : -1;
    free(text);
    return rc == 0 ? JWS_OK : fail(err, errlen, JWS_BAD_PUBLIC_KEY, "cannot hash the JWK");
}

/* JOSE ECDSA signatures are r||s; the key layer takes DER Ecdsa-Sig-Value. */
static uint8_t *ecdsa_raw_to_der(const uint8_t *sig, size_t half, size_t *len)
{
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, sig, half);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, sig + half, half);
    pki_derw_end(&w);
    return pki_derw_take(&w, len);
}

jws_status jws_verify(const jws_msg *m, const uint8_t *spki, size_t spki_len, pki_key_type type,
                      char *err, size_t errlen)
{
    pki_sig_alg alg;
    if (jws_alg_for_key(m->alg, type, &alg) != JWS_OK)
        return fail(err, errlen, JWS_BAD_ALG,
                    "alg '%s' is not accepted for this key (RS256, ES256, ES384, EdDSA)", m->alg);
    const uint8_t *sig = m->sig;
    size_t sig_len = m->sig_len;
    uint8_t *der = NULL;
    if (alg == PKI_SIG_ECDSA_SHA256 || alg == PKI_SIG_ECDSA_SHA384) {
        size_t half = alg == PKI_SIG_ECDSA_SHA256 ? 32 : 48;
        if (sig_len != 2 * half)
            return fail(err, errlen, JWS_BAD_SIGNATURE, "%s signature must be %zu octets", m->alg,
                        2 * half);
        der = ecdsa_raw_to_der(sig, half, &sig_len);
        if (!der)
            return fail(err, errlen, JWS_BAD_SIGNATURE, "out of memory");
        sig = der;
    }
    int rc = pki_spki_verify(spki, spki_len, alg, (const uint8_t *)m->signing_input,
                             m->signing_input_len, sig, sig_len);
    free(der);
    if (rc != 0)
        return fail(err, errlen, JWS_BAD_SIGNATURE, "the JWS signature does not verify");
    return JWS_OK;
}

jws_status jws_verify_hmac(const jws_msg *m, const uint8_t *key, size_t key_len, char *err,
                           size_t errlen)
{
    int type;
    size_t mac_len;
    if (strcmp(m->alg, "HS256") == 0) {
        type = WC_SHA256;
        mac_len = 32;
    } else if (strcmp(m->alg, "HS384") == 0) {
        type = WC_SHA384;
        mac_len = 48;
    } else if (strcmp(m->alg, "HS512") == 0) {
        type = WC_SHA512;
        mac_len = 64;
    } else {
        return fail(err, errlen, JWS_BAD_ALG, "the binding's alg must be HS256, HS384 or HS512");
    }
    Hmac h;
    uint8_t mac[64];
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
        return fail(err, errlen, JWS_BAD_SIGNATURE, "HMAC unavailable");
    int rc = wc_HmacSetKey(&h, type, key, (word32)key_len);
    if (rc == 0)
        rc = wc_HmacUpdate(&h, (const byte *)m->signing_input, (word32)m->signing_input_len);
    if (rc == 0)
        rc = wc_HmacFinal(&h, mac);
    wc_HmacFree(&h);
    if (rc != 0)
        return fail(err, errlen, JWS_BAD_SIGNATURE, "HMAC failed");
    unsigned diff = m->sig_len != mac_len;
    for (size_t i = 0; i < mac_len; i++)
        diff |= (unsigned)(mac[i] ^ (i < m->sig_len ? m->sig[i] : 0));
    if (diff)
        return fail(err, errlen, JWS_BAD_SIGNATURE, "the external account binding MAC is wrong");
    return JWS_OK;
}
