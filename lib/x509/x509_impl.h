/* Internal to lib/x509: helpers the builders share. Not part of the interface. */
#ifndef PKI_X509_IMPL_H
#define PKI_X509_IMPL_H

#include "x509/x509.h"

/* DistributionPointName fullName: [0] { [0] { URI … } } (both IMPLICIT over constructed). */
void pki_x509_write_dp_name(pki_der_writer *w, const char *const *urls, size_t n);

/* Writes the signed structure around tbs: the default is SEQUENCE { tbs, algorithm, BIT STRING
 * signature } (Certificate, CertificationRequest, CertificateList). */
typedef void (*pki_x509_assemble_fn)(pki_der_writer *w, const uint8_t *tbs, size_t tbs_len,
                                     const uint8_t *alg, size_t alg_len, const uint8_t *sig,
                                     size_t sig_len, void *extra);
void pki_x509_assemble_signed(pki_der_writer *w, const uint8_t *tbs, size_t tbs_len,
                              const uint8_t *alg, size_t alg_len, const uint8_t *sig,
                              size_t sig_len, void *extra);

/* Resolves alg 0 to the signer's default and checks it fits the key. Returns the algorithm or
 * a negative status with err set. */
int pki_x509_pick_alg(pki_signer *signer, pki_sig_alg alg, char *err, size_t errlen);
/* The AlgorithmIdentifier DER for alg into the writer. */
void pki_x509_write_alg(pki_der_writer *w, pki_sig_alg alg);

/* Signs tbs (ownership passes here, freed in every case) and calls done with the assembled
 * structure. extra is passed to assemble and released with extra_free afterwards (also on
 * refusal). Returns 0 when done will be called, or a negative status (done not called). */
int pki_x509_sign(uint8_t *tbs, size_t tbs_len, pki_sig_alg alg, pki_signer *signer,
                  pki_x509_assemble_fn assemble, void *extra, void (*extra_free)(void *),
                  pki_build_done_fn done, void *ctx, char *err, size_t errlen);
/* The blocking form: the result is malloc'd into *der. */
int pki_x509_sign_sync(uint8_t *tbs, size_t tbs_len, pki_sig_alg alg, pki_signer *signer,
                       pki_x509_assemble_fn assemble, void *extra, void (*extra_free)(void *),
                       uint8_t **der, size_t *len, char *err, size_t errlen);

/* Makes the to-be-signed body of one kind of structure for algorithm alg. what and issuer are
 * the builder's own inputs (template, issuer or subject, extensions). */
typedef int (*pki_x509_tbs_fn)(const void *what, const void *issuer, pki_signer *signer,
                               pki_sig_alg alg, uint8_t **tbs, size_t *tbs_len, char *err,
                               size_t errlen);
/* The common path of the certificate, CSR and CRL builders: picks the algorithm (requested, or
 * the signer's default), makes the body with make, and signs it with the default assembly —
 * asynchronously when done is set (the result goes to done), else blocking into *der. */
int pki_x509_build(pki_x509_tbs_fn make, const void *what, const void *issuer, pki_signer *signer,
                   pki_sig_alg requested, pki_build_done_fn done, void *ctx, uint8_t **der,
                   size_t *len, char *err, size_t errlen);

/* Whether t falls in years 0000..9999, the range ASN.1 times can carry (the DER writer picks
 * UTCTime or GeneralizedTime itself). */
static inline int pki_x509_time_ok(int64_t t)
{
    return t >= -62167219200LL && t <= 253402300799LL;
}

/* Whether the template's subject (pki_name or DER) is empty. */
int pki_x509_subject_empty(const pki_cert_template *t);

int pki_x509_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
