/* Internal to lib/keys: the key object shared by its .c files. Not part of the interface. */
#ifndef PKI_KEYS_KEY_IMPL_H
#define PKI_KEYS_KEY_IMPL_H

#include <pthread.h>
#include <stdarg.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "keys/keys.h"

struct pki_key {
    pki_key_type type;
    unsigned rsa_bits;
    pthread_mutex_t lock; /* wolfCrypt keys and the RNG are not safe for concurrent use */
    WC_RNG rng;
    int rng_ok;
    int key_ok; /* the union member below is initialised */
    union {
        RsaKey rsa;
        ecc_key ecc;
        ed25519_key ed;
    } u;
    uint8_t *spki;
    size_t spki_len;
};

/* Allocates a key with its RNG; the caller initialises u and sets key_ok. */
pki_key *pki_key_alloc(pki_key_type type, char *err, size_t errlen);
/* Computes spki from the public half. Returns 0 or -1. */
int pki_key_finish(pki_key *k, char *err, size_t errlen);
void pki_key_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* explicit_bzero: the compiler may not drop it. */
void pki_secure_zero(void *p, size_t len);

/* wolfCrypt curve id for a key type (ECC_SECP256R1, …), or -1. */
int pki_key_curve_id(pki_key_type type);
/* The hash an algorithm uses (WC_HASH_TYPE_NONE for Ed25519), whether it is PSS, and the MGF1
 * constant for a hash. */
enum wc_HashType pki_sig_alg_hash(pki_sig_alg alg);
int pki_sig_alg_is_pss(pki_sig_alg alg);
int pki_hash_mgf(enum wc_HashType h);

#endif
