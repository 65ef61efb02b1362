/* Software signer: a pki_key behind the signer interface. */
#include "signer/soft_signer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int soft_sign(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                     pki_sign_done_fn done, void *ctx)
{
    if (!done)
        return PKI_SIGN_ERR_INTERNAL;
    if (!pki_sig_alg_fits_key(alg, s->key_type))
        return PKI_SIGN_ERR_BAD_ALG;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int rc = pki_key_sign(s->impl, alg, tbs, tbs_len, &sig, &sig_len);
    done(ctx, rc, rc == PKI_SIGN_OK ? sig : NULL, rc == PKI_SIGN_OK ? sig_len : 0);
    free(sig);
    return 0;
}

static void soft_destroy(pki_signer *s)
{
    pki_key_free(s->impl); /* wipes the key */
    free(s->spki);
    free(s);
}

static const struct pki_signer_ops SOFT_OPS = {
    .sign = soft_sign,
    .destroy = soft_destroy,
};

pki_signer *pki_soft_signer_new(pki_key *key)
{
    if (!key)
        return NULL;
    pki_signer *s = calloc(1, sizeof *s);
    size_t spki_len;
    const uint8_t *spki = pki_key_spki(key, &spki_len);
    if (!s || !(s->spki = malloc(spki_len))) {
        free(s);
        pki_key_free(key);
        return NULL;
    }
    memcpy(s->spki, spki, spki_len);
    s->spki_len = spki_len;
    s->ops = &SOFT_OPS;
    s->key_type = pki_key_get_type(key);
    s->rsa_bits = pki_key_rsa_bits(key);
    s->default_alg = pki_sig_alg_default(s->key_type);
    s->impl = key;
    return s;
}

pki_signer *pki_soft_signer_generate(pki_key_type type, unsigned rsa_bits)
{
    return pki_soft_signer_new(pki_key_generate(type, rsa_bits, NULL, 0));
}

pki_signer *pki_soft_signer_from_der(const uint8_t *der, size_t len, const char *password,
                                     char *err, size_t errlen)
{
    pki_key *k = pki_key_import(der, len, password, err, errlen);
    if (!k)
        return NULL;
    pki_signer *s = pki_soft_signer_new(k);
    if (!s && err && errlen)
        snprintf(err, errlen, "out of memory");
    return s;
}

pki_signer *pki_soft_signer_from_pem(const char *pem, size_t len, const char *password, char *err,
                                     size_t errlen)
{
    return pki_soft_signer_from_der((const uint8_t *)pem, len, password, err, errlen);
}

int pki_soft_signer_is(const pki_signer *s)
{
    return s && s->ops == &SOFT_OPS;
}

pki_key *pki_soft_signer_key(pki_signer *s)
{
    return pki_soft_signer_is(s) ? s->impl : NULL;
}

int pki_soft_signer_export_pkcs8_der(pki_signer *s, uint8_t **der, size_t *len)
{
    pki_key *k = pki_soft_signer_key(s);
    return k ? pki_key_to_pkcs8_der(k, der, len) : -1;
}

int pki_soft_signer_export_pkcs8_pem(pki_signer *s, char **pem, size_t *len)
{
    pki_key *k = pki_soft_signer_key(s);
    return k ? pki_key_to_pkcs8_pem(k, pem, len) : -1;
}

int pki_soft_signer_export_encrypted_pem(pki_signer *s, const char *password, char **pem,
                                         size_t *len)
{
    pki_key *k = pki_soft_signer_key(s);
    return k ? pki_key_to_encrypted_pkcs8_pem(k, password, pem, len) : -1;
}
