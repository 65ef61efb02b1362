#include "yubikey/yk_signer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"

typedef struct {
    yk_manager *m;
    uint32_t serial;
    int slot;
    pthread_mutex_t lock; /* pin, pin_bad, last, refs */
    secret pin;
    bool pin_bad;
    yk_result last;
    int refs; /* the signer + each queued signature */
} yk_impl;

typedef struct {
    yk_impl *impl;
    pki_key_type type;
    pki_sig_alg alg;
    uint8_t *tbs;
    size_t tbs_len;
    pki_sign_done_fn done;
    void *ctx;
} sign_job;

static void impl_release(yk_impl *k)
{
    pthread_mutex_lock(&k->lock);
    bool last = --k->refs == 0;
    pthread_mutex_unlock(&k->lock);
    if (!last)
        return;
    secret_clear(&k->pin);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static void record(yk_impl *k, const yk_result *r)
{
    pthread_mutex_lock(&k->lock);
    k->last = *r;
    pthread_mutex_unlock(&k->lock);
}

static int sign_on_card(ykpiv_state *yk, uint32_t serial, void *arg)
{
    (void)serial;
    sign_job *j = arg;
    yk_impl *k = j->impl;
    yk_result r = {.retries = -1};
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    bool pin_checked = false; /* the retry counter may have moved: refresh the description */
    if (!yk) {
        ykc_fail(&r, PKI_SIGN_ERR_CARD_ABSENT, 503, "card_absent", "the YubiKey was removed");
    } else {
        pthread_mutex_lock(&k->lock);
        bool refuse = k->pin_bad;
        secret pin = {0};
        if (!refuse && k->pin.buf)
            (void)secret_set(&pin, k->pin.buf, k->pin.len);
        pthread_mutex_unlock(&k->lock);
        if (refuse) {
            ykc_fail(&r, PKI_SIGN_ERR_PIN_REQUIRED, 403, "pin_required",
                     "the PIN given earlier was refused; enter it again");
        } else {
            pin_checked = pin.buf != NULL;
            if (pin_checked && ykc_verify_pin(yk, &pin, &r) != 0) {
                pthread_mutex_lock(&k->lock);
                k->pin_bad = true; /* never try the same wrong PIN twice */
                secret_clear(&k->pin);
                pthread_mutex_unlock(&k->lock);
            } else {
                (void)ykc_sign(yk, k->slot, j->type, j->alg, j->tbs, j->tbs_len, &sig, &sig_len,
                               &r);
            }
        }
        secret_clear(&pin);
    }
    record(k, &r);
    j->done(j->ctx, r.status, sig, sig_len);
    free(sig);
    free(j->tbs);
    impl_release(k);
    free(j);
    return pin_checked ? YK_CHANGED_PIN : YK_SAME;
}

static int yk_sign(pki_signer *s, pki_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
                   pki_sign_done_fn done, void *ctx)
{
    yk_impl *k = s->impl;
    if (!pki_sig_alg_fits_key(alg, s->key_type))
        return PKI_SIGN_ERR_BAD_ALG;
    sign_job *j = calloc(1, sizeof *j);
    if (!j)
        return PKI_SIGN_ERR_INTERNAL;
    j->tbs = malloc(tbs_len ? tbs_len : 1);
    if (!j->tbs) {
        free(j);
        return PKI_SIGN_ERR_INTERNAL;
    }
    if (tbs_len)
        memcpy(j->tbs, tbs, tbs_len);
    j->tbs_len = tbs_len;
    j->impl = k;
    j->type = s->key_type;
    j->alg = alg;
    j->done = done;
    j->ctx = ctx;
    pthread_mutex_lock(&k->lock);
    k->refs++;
    pthread_mutex_unlock(&k->lock);
    if (yk_manager_submit(k->m, k->serial, sign_on_card, j) != 0) {
        yk_result r = {.retries = -1};
        ykc_fail(&r, PKI_SIGN_ERR_CARD_ABSENT, 503, "card_absent", "YubiKey %u is not present",
                 k->serial);
        record(k, &r);
        free(j->tbs);
        free(j);
        impl_release(k);
        return PKI_SIGN_ERR_CARD_ABSENT;
    }
    return 0;
}

static void yk_destroy(pki_signer *s)
{
    impl_release(s->impl);
    free(s->spki);
    free(s);
}

static const struct pki_signer_ops YK_OPS = {.sign = yk_sign, .destroy = yk_destroy};

pki_signer *yk_signer_new(yk_manager *m, uint32_t serial, int slot, const uint8_t *spki,
                          size_t spki_len, const secret *pin, char *err, size_t errlen)
{
    pki_key_type type;
    unsigned bits = 0;
    if (pki_spki_info(spki, spki_len, &type, &bits, err, errlen) != 0)
        return NULL;
    if (!(type == PKI_KEY_EC_P256 || type == PKI_KEY_EC_P384 ||
          (type == PKI_KEY_RSA && bits == 2048))) {
        snprintf(err, errlen, "a YubiKey slot holds RSA 2048, P-256 or P-384 keys");
        return NULL;
    }
    pki_signer *s = calloc(1, sizeof *s);
    yk_impl *k = calloc(1, sizeof *k);
    uint8_t *copy = malloc(spki_len);
    if (!s || !k || !copy || (pin && pin->buf && secret_set(&k->pin, pin->buf, pin->len) != 0)) {
        free(s);
        free(copy);
        if (k)
            secret_clear(&k->pin);
        free(k);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(copy, spki, spki_len);
    k->m = m;
    k->serial = serial;
    k->slot = slot;
    k->refs = 1;
    k->last.retries = -1;
    pthread_mutex_init(&k->lock, NULL);
    s->ops = &YK_OPS;
    s->key_type = type;
    s->rsa_bits = bits;
    s->spki = copy;
    s->spki_len = spki_len;
    s->default_alg = type == PKI_KEY_RSA       ? PKI_SIG_RSA_PKCS1_SHA256
                     : type == PKI_KEY_EC_P384 ? PKI_SIG_ECDSA_SHA384
                                               : PKI_SIG_ECDSA_SHA256;
    s->impl = k;
    return s;
}

void yk_signer_last_error(pki_signer *s, yk_result *r)
{
    yk_impl *k = s->impl;
    pthread_mutex_lock(&k->lock);
    *r = k->last;
    pthread_mutex_unlock(&k->lock);
}
