/* Public keys from SubjectPublicKeyInfo and signature verification. Used to check CSRs,
 * certificates and CRLs, and by the relay to verify every signature a remote signer returns. */
#include <stdlib.h>
#include <string.h>

#include "keys/key_impl.h"

#include <wolfssl/wolfcrypt/asn.h>

#include "der/der_reader.h"

struct pubkey {
    pki_key_type type;
    unsigned rsa_bits;
    int ok;
    union {
        RsaKey rsa;
        ecc_key ecc;
        ed25519_key ed;
    } u;
};

static void pubkey_free(struct pubkey *pk)
{
    if (!pk->ok)
        return;
    if (pk->type == PKI_KEY_RSA)
        wc_FreeRsaKey(&pk->u.rsa);
    else if (pk->type == PKI_KEY_ED25519)
        wc_ed25519_free(&pk->u.ed);
    else
        wc_ecc_free(&pk->u.ecc);
    pk->ok = 0;
}

static int curve_from_oid(const pki_der_item *oid, pki_key_type *t)
{
    if (pki_der_oid_is(oid, "1.2.840.10045.3.1.7"))
        *t = PKI_KEY_EC_P256;
    else if (pki_der_oid_is(oid, "1.3.132.0.34"))
        *t = PKI_KEY_EC_P384;
    else if (pki_der_oid_is(oid, "1.3.132.0.35"))
        *t = PKI_KEY_EC_P521;
    else
        return -1;
    return 0;
}

/* Reads the algorithm with our DER reader (strictly), then lets wolfCrypt decode the key. */
static int pubkey_load(const uint8_t *spki, size_t len, struct pubkey *pk, char *err, size_t errlen)
{
    pki_der_item top, oid, params, bits_it;
    pki_der body, alg;
    const uint8_t *bits;
    size_t nbits;
    memset(pk, 0, sizeof *pk);
    if (!spki || len > UINT32_MAX || pki_der_single(spki, len, &top) != 0 ||
        pki_der_enter(&top, &body) != 0 ||
        pki_der_enter_expect(&body, PKI_DER_SEQUENCE, &alg, NULL) != 0 ||
        pki_der_expect(&alg, PKI_DER_OID, &oid) != 0 ||
        pki_der_expect(&body, PKI_DER_BIT_STRING, &bits_it) != 0 || !pki_der_at_end(&body) ||
        pki_der_bit_string_octets(&bits_it, &bits, &nbits) != 0) {
        pki_key_errf(err, errlen, "malformed SubjectPublicKeyInfo");
        return -1;
    }
    word32 idx = 0;
    if (pki_der_oid_is(&oid, "1.2.840.113549.1.1.1")) {
        pk->type = PKI_KEY_RSA;
        if (pki_der_next(&alg, &params) != 0 || pki_der_null(&params) != 0 ||
            !pki_der_at_end(&alg) || wc_InitRsaKey(&pk->u.rsa, NULL) != 0) {
            pki_key_errf(err, errlen, "malformed RSA public key");
            return -1;
        }
        pk->ok = 1;
        if (wc_RsaPublicKeyDecode(spki, &idx, &pk->u.rsa, (word32)len) != 0) {
            pki_key_errf(err, errlen, "malformed RSA public key");
            return -1;
        }
        int b = wc_RsaEncryptSize(&pk->u.rsa) * 8;
        if (b < 2048 || b > 4096) {
            pki_key_errf(err, errlen, "RSA key of %d bits not supported (2048 to 4096)", b);
            return -1;
        }
        pk->rsa_bits = (unsigned)b;
        return 0;
    }
    if (pki_der_oid_is(&oid, "1.2.840.10045.2.1")) {
        char name[64] = "?";
        if (pki_der_expect(&alg, PKI_DER_OID, &params) != 0 || !pki_der_at_end(&alg)) {
            pki_key_errf(err, errlen, "EC public key without a named curve");
            return -1;
        }
        if (curve_from_oid(&params, &pk->type) != 0) {
            pki_der_oid_text(&params, name, sizeof name);
            pki_key_errf(err, errlen, "unsupported curve %s",
                         strcmp(name, "1.3.132.0.10") == 0 ? "secp256k1" : name);
            return -1;
        }
        if (wc_ecc_init(&pk->u.ecc) != 0)
            return -1;
        pk->ok = 1;
        /* On the curve and not infinity is the whole check: P-256/384/521 have cofactor 1, so
         * such a point has the group's prime order. wc_ecc_check_key would also multiply it by
         * the order — a full scalar multiplication on Debian's generic math, as costly as the
         * verification itself. */
        if (wc_EccPublicKeyDecode(spki, &idx, &pk->u.ecc, (word32)len) != 0 || !pk->u.ecc.dp ||
            pk->u.ecc.dp->id != pki_key_curve_id(pk->type) ||
            wc_ecc_point_is_at_infinity(&pk->u.ecc.pubkey) ||
            wc_ecc_point_is_on_curve(&pk->u.ecc.pubkey, pk->u.ecc.idx) != 0) {
            pki_key_errf(err, errlen, "malformed EC public key");
            return -1;
        }
        return 0;
    }
    if (pki_der_oid_is(&oid, "1.3.101.112")) {
        pk->type = PKI_KEY_ED25519;
        if (!pki_der_at_end(&alg) || nbits != ED25519_PUB_KEY_SIZE ||
            wc_ed25519_init(&pk->u.ed) != 0) {
            pki_key_errf(err, errlen, "malformed Ed25519 public key");
            return -1;
        }
        pk->ok = 1;
        if (wc_ed25519_import_public(bits, (word32)nbits, &pk->u.ed) != 0) {
            pki_key_errf(err, errlen, "malformed Ed25519 public key");
            return -1;
        }
        return 0;
    }
    char name[64] = "?";
    pki_der_oid_text(&oid, name, sizeof name);
    pki_key_errf(err, errlen, "unsupported public key algorithm %s", name);
    return -1;
}

int pki_spki_info(const uint8_t *spki, size_t len, pki_key_type *type, unsigned *rsa_bits,
                  char *err, size_t errlen)
{
    struct pubkey pk;
    int rc = pubkey_load(spki, len, &pk, err, errlen);
    if (rc == 0) {
        if (type)
            *type = pk.type;
        if (rsa_bits)
            *rsa_bits = pk.rsa_bits;
    }
    pubkey_free(&pk);
    return rc;
}

static int verify_rsa(struct pubkey *pk, pki_sig_alg alg, const uint8_t *digest, int dlen,
                      const uint8_t *sig, size_t sig_len)
{
    if (sig_len != (size_t)wc_RsaEncryptSize(&pk->u.rsa))
        return -1;
    uint8_t buf[512], out[512];
    memcpy(buf, sig, sig_len);
    enum wc_HashType h = pki_sig_alg_hash(alg);
    if (pki_sig_alg_is_pss(alg)) {
        /* Salt length must equal the hash length: the only PSS form pki_sig_alg names. */
        int n = wc_RsaPSS_VerifyCheck(buf, (word32)sig_len, out, sizeof out, digest, (word32)dlen,
                                      h, pki_hash_mgf(h), &pk->u.rsa);
        return n > 0 ? 0 : -1;
    }
    uint8_t expect[MAX_ENCODED_SIG_SZ];
    word32 elen = wc_EncodeSignature(expect, digest, (word32)dlen, wc_HashGetOID(h));
    int n = wc_RsaSSL_Verify(buf, (word32)sig_len, out, sizeof out, &pk->u.rsa);
    if (elen == 0 || n != (int)elen || memcmp(out, expect, elen) != 0)
        return -1;
    return 0;
}

int pki_spki_verify(const uint8_t *spki, size_t spki_len, pki_sig_alg alg, const uint8_t *msg,
                    size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    struct pubkey pk;
    if ((!msg && msg_len) || !sig || msg_len > UINT32_MAX || sig_len > 1024)
        return PKI_SIGN_ERR_BAD_SIGNATURE;
    if (!msg)
        msg = (const uint8_t *)"";
    if (pubkey_load(spki, spki_len, &pk, NULL, 0) != 0) {
        pubkey_free(&pk);
        return PKI_SIGN_ERR_BAD_SIGNATURE;
    }
    int rc = -1;
    if (!pki_sig_alg_fits_key(alg, pk.type)) {
        pubkey_free(&pk);
        return PKI_SIGN_ERR_BAD_ALG;
    }
    if (pk.type == PKI_KEY_ED25519) {
        int res = 0;
        if (sig_len == ED25519_SIG_SIZE &&
            wc_ed25519_verify_msg(sig, (word32)sig_len, msg, (word32)msg_len, &res, &pk.u.ed) ==
                0 &&
            res == 1)
            rc = 0;
    } else {
        enum wc_HashType h = pki_sig_alg_hash(alg);
        uint8_t digest[WC_MAX_DIGEST_SIZE];
        int dlen = wc_HashGetDigestSize(h);
        if (dlen > 0 && wc_Hash(h, msg, (word32)msg_len, digest, sizeof digest) == 0) {
            if (pk.type == PKI_KEY_RSA)
                rc = verify_rsa(&pk, alg, digest, dlen, sig, sig_len);
            else {
                int res = 0;
                pki_crypto_thread_note_ecc();
                if (wc_ecc_verify_hash(sig, (word32)sig_len, digest, (word32)dlen, &res,
                                       &pk.u.ecc) == 0 &&
                    res == 1)
                    rc = 0;
            }
        }
    }
    pubkey_free(&pk);
    return rc == 0 ? PKI_SIGN_OK : PKI_SIGN_ERR_BAD_SIGNATURE;
}
