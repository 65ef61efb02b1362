/* The simulator's attestation PKI. A per-installation CA (ECC P-256 key, self-signed
 * certificate) lives in a directory shared by all simulated keys:
 *   DIR/attestation-ca.pem      the CA certificate, for relays and tests to trust
 *   DIR/ca-key.sealed(.key)     its private key, sealed like the card state
 * Each simulated key gets, on first start, an attestation key in slot f9 and a certificate for it
 * (object 5FFF01) issued by that CA, as Yubico's factory does with its own CA. ATTEST then issues
 * a certificate for a slot key signed by the f9 key (attest.c). */
#ifndef PIVSIM_ATTEST_CA_H
#define PIVSIM_ATTEST_CA_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "tlv.h"

#define ATTEST_F9_CN "piv-sim PIV Attestation"

struct attest_ca {
    uint8_t *cert_der;
    size_t cert_len;
    uint8_t *key_der; /* EC P-256 private key (SEC1 DER) */
    size_t key_len;
};

/* Loads the CA from dir, creating it (and dir) on first use. Safe against several simulators
 * starting at once (a lock file serialises creation). */
int attest_ca_open(struct attest_ca *ca, const char *dir, char *err, size_t errlen);
/* Gives the state an f9 key and certificate if it has none. */
int attest_ca_provision(struct attest_ca *ca, struct sim_state *st, char *err, size_t errlen);
void attest_ca_free(struct attest_ca *ca);

/* One X.509 v3 extension for cert_build. value is the extnValue content. */
struct cert_ext {
    const char *oid;
    int critical;
    const uint8_t *value;
    size_t len;
};

/* Builds and signs a certificate with subject/issuer names of a single CN. */
struct cert_spec {
    const char *subject_cn;
    const char *issuer_cn;
    const uint8_t *issuer_der; /* when set: the issuer Name as DER, instead of issuer_cn */
    size_t issuer_der_len;
    const uint8_t *serial; /* big-endian, up to 20 bytes */
    size_t serial_len;
    int64_t not_before, not_after;
    const uint8_t *spki;
    size_t spki_len;
    int is_ca;
    const struct cert_ext *exts;
    size_t n_exts;
};
int cert_build(const struct cert_spec *spec, uint8_t signer_algo, const uint8_t *signer_der,
               size_t signer_len, struct buf *out);

#endif
