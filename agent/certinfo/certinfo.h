/* What the agent reads from certificates pasted into it (the HSM provisioning certificate, a
 * signed CA certificate, its chain) and from slots: subject, issuer, validity, public key and
 * extensions, through lib/der's strict reader. Also the certificate-chain check of an import
 * (wolfSSL's certificate manager). Everything pasted is outside input: errors say what is
 * wrong in words an operator understands. */
#ifndef AGENT_CERTINFO_H
#define AGENT_CERTINFO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "x509/x509.h"

#define CERTINFO_MAX_EXTS 32

typedef struct {
    char oid[48];
    int critical;
    const uint8_t *value; /* extnValue contents, pointing into der */
    size_t len;
} certinfo_ext;

typedef struct {
    uint8_t *der; /* the whole certificate, owned */
    size_t der_len;
    const uint8_t *serial; /* magnitude, into der */
    size_t serial_len;
    pki_name subject, issuer;
    const uint8_t *subject_der, *issuer_der; /* the Name elements, into der */
    size_t subject_der_len, issuer_der_len;
    int64_t not_before, not_after;
    const uint8_t *spki; /* into der */
    size_t spki_len;
    certinfo_ext exts[CERTINFO_MAX_EXTS];
    size_t n_exts;
    int is_ca, path_len; /* from basicConstraints; path_len -1 when absent */
    int has_key_usage;
    uint32_t key_usage;
    const uint8_t *tbs, *sig_alg, *sig; /* TBSCertificate, AlgorithmIdentifier (whole elements)
                                          and the signature octets, into der */
    size_t tbs_len, sig_alg_len, sig_len;
} certinfo;

/* Parses one certificate, PEM ("CERTIFICATE") or DER. 0, or -1 with the reason in err.
 * text may have leading or trailing blanks; anything else is refused. */
int certinfo_parse(certinfo *ci, const uint8_t *data, size_t len, char *err, size_t errlen);
void certinfo_free(certinfo *ci);

/* All certificates in a PEM bundle, in order; *n set. 0, or -1 with err (also when the text
 * holds no certificate). Free each with certinfo_free and the array with free. */
int certinfo_parse_chain(const char *pem, size_t len, certinfo **out, size_t *n, char *err,
                         size_t errlen);

/* PEM of ci (malloc'd, NUL-terminated). */
char *certinfo_pem(const certinfo *ci);
/* Decoded details for "View Certificate": subject, issuer, serial, validity, key, SHA-256
 * fingerprint, extensions. */
json_t *certinfo_json(const certinfo *ci);

/* The decoded extensions of a provisioning certificate, in the shape the certificate
 * template of lib/x509 wants (fields for what the builder writes itself, the rest verbatim). */
typedef struct {
    pki_exts exts; /* extensions without a template field, copied verbatim */
    const char *eku[16];
    size_t n_eku;
    pki_general_name san[32];
    size_t n_san;
    const char *crl[8], *ocsp[8], *ca_issuers[8];
    size_t n_crl, n_ocsp, n_ca_issuers;
    pki_policy policies[8];
    size_t n_policies;
    int ocsp_nocheck;
    char pool[8192]; /* the strings above point here */
    size_t pool_used;
} certinfo_tpl;

/* Turns the provisioning certificate into the template of the CA certificate: its subject,
 * validity and extensions (SKI/AKI left to the builder). spki is the slot's key. The template
 * points into ci and tpl; keep both alive while using it, then certinfo_tpl_free(tpl). */
int certinfo_to_template(const certinfo *ci, const uint8_t *spki, size_t spki_len,
                         pki_cert_template *t, certinfo_tpl *tpl, char *err, size_t errlen);
void certinfo_tpl_free(certinfo_tpl *tpl);

/* Whether ci's signature verifies with the public key spki (SubjectPublicKeyInfo): the
 * relay's link key over an HSM provisioning certificate. 0, or -1 with err. */
int certinfo_verify_signature(const certinfo *ci, const uint8_t *spki, size_t spki_len, char *err,
                              size_t errlen);

/* Checks that leaf chains up through chain[] to a self-signed root in chain[] (signatures,
 * validity, CA flags). 0, or -1 with err. With n == 0, leaf must be self-signed itself. */
int certinfo_verify_chain(const certinfo *leaf, const certinfo *chain, size_t n, char *err,
                          size_t errlen);

#endif
