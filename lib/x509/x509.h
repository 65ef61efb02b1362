/* X.509 building: names, extensions, and the to-be-signed structures of certificates, CSRs,
 * CRLs and OCSP responses, signed through a pki_signer (ARCHITECTURE decision 2). All DER comes
 * from der/der_writer.h. Parsing is lib/pkix's business.
 *
 * Builders are asynchronous like the signer: pki_*_build() checks its input, builds the TBS, asks
 * the signer, and calls done once with the finished DER — perhaps before it returns (software
 * keys), perhaps later on another thread (an HSM behind the link). It returns 0 when done will be
 * called, or a negative PKI_X509_ERR_* / pki_sign_status with a message in err when it refused at
 * once (done is then not called). The *_sync wrappers block (pki_signer_sign_sync) and hand back
 * malloc'd DER.
 *
 * Unless said otherwise, functions return 0 on success or a negative PKI_X509_ERR_* /
 * pki_sign_status with a message in err (err may be NULL). */
#ifndef PKI_X509_H
#define PKI_X509_H

#include <stddef.h>
#include <stdint.h>

#include "der/der_writer.h"
#include "signer/signer.h"

enum {
    PKI_X509_ERR_INPUT = -20, /* a field is malformed (message names it) */
    PKI_X509_ERR_LINT = -21,  /* a pre-issuance check failed: "lint <rule>: …" */
    PKI_X509_ERR_NOMEM = -22,
};

/* ---- Names ------------------------------------------------------------------------------- */

#define PKI_NAME_MAX_ATTRS 24
#define PKI_NAME_MAX_VALUE 256

typedef struct {
    char oid[48];                       /* dotted */
    char value[PKI_NAME_MAX_VALUE + 1]; /* UTF-8 */
    int joined;                         /* shares the RDN of the attribute before it ("+") */
} pki_name_attr;

/* A distinguished name, attributes in RDNSequence order (most significant, e.g. C, first). */
typedef struct {
    pki_name_attr attr[PKI_NAME_MAX_ATTRS];
    size_t count;
} pki_name;

/* Adds one attribute. type is a short name (CN, O, OU, L, ST, C, street, emailAddress,
 * serialNumber, DC, UID, SN, GN, title, postalCode, organizationIdentifier, …) or a dotted OID.
 * Checks what the encoding needs: C is two letters, serialNumber printable, email/DC ASCII. */
int pki_name_add(pki_name *n, const char *type, const char *value, char *err, size_t errlen);
/* Parses "/C=DE/O=Example/CN=host" (openssl -subj, RDNSequence order) or RFC 4514
 * "CN=host,O=Example,C=DE" (most significant last). '\' escapes; '+' joins a multi-valued RDN. */
int pki_name_parse(pki_name *n, const char *text, char *err, size_t errlen);
/* "/C=DE/O=Example/CN=host" or RFC 4514 "CN=host,O=Example,C=DE". Returns 0, or -1 if cap is
 * too small. */
enum { PKI_NAME_OPENSSL = 0, PKI_NAME_RFC4514 = 1 };
int pki_name_format(const pki_name *n, int style, char *buf, size_t cap);
/* Reads a DER Name (a CSR's subject, a CA's subject for display). Values are kept as UTF-8
 * text; writing the result again uses our encoding choices, so to copy a name byte for byte keep
 * its DER (pki_issuer.name_der does). */
int pki_name_from_der(pki_name *n, const uint8_t *der, size_t len, char *err, size_t errlen);
/* Name DER: PrintableString where it fits, else UTF8String (C, serialNumber: Printable only;
 * emailAddress, DC: IA5String). */
void pki_name_write(pki_der_writer *w, const pki_name *n);
int pki_name_der(const pki_name *n, uint8_t **der, size_t *len);

/* ---- General names and extensions --------------------------------------------------------- */

typedef enum {
    PKI_GN_DNS = 1,
    PKI_GN_IP,    /* "192.0.2.1" or "2001:db8::1" */
    PKI_GN_EMAIL, /* rfc822Name */
    PKI_GN_URI,
    PKI_GN_UPN, /* Microsoft UPN otherName (smart-card logon), UTF8String */
} pki_gn_type;

typedef struct {
    pki_gn_type type;
    const char *value;
} pki_general_name;

/* Well-formedness of one general name (DNS labels, IP text, "local@domain", "scheme:…");
 * returns 0, or -1 with the reason in err. */
int pki_general_name_check(const pki_general_name *gn, char *err, size_t errlen);

/* keyUsage bits (RFC 5280 4.2.1.3), bit n = 1u << n. */
enum {
    PKI_KU_DIGITAL_SIGNATURE = 1u << 0,
    PKI_KU_NON_REPUDIATION = 1u << 1,
    PKI_KU_KEY_ENCIPHERMENT = 1u << 2,
    PKI_KU_DATA_ENCIPHERMENT = 1u << 3,
    PKI_KU_KEY_AGREEMENT = 1u << 4,
    PKI_KU_KEY_CERT_SIGN = 1u << 5,
    PKI_KU_CRL_SIGN = 1u << 6,
    PKI_KU_ENCIPHER_ONLY = 1u << 7,
    PKI_KU_DECIPHER_ONLY = 1u << 8,
};

typedef struct {
    char oid[48];
    int critical;
    uint8_t *value; /* extnValue contents (the DER inside the OCTET STRING), owned */
    size_t len;
} pki_ext;

/* A list of extensions. Adders return 0 or -1 (err set); the first failure sticks in err so a
 * chain of adds can be checked once with pki_exts_error(). */
typedef struct {
    pki_ext *v;
    size_t count, cap;
    char err[160];
} pki_exts;

void pki_exts_init(pki_exts *e);
void pki_exts_free(pki_exts *e);
const char *pki_exts_error(const pki_exts *e); /* NULL when every add succeeded */
const pki_ext *pki_exts_find(const pki_exts *e, const char *oid);
/* Any extension by OID with its DER value. Adding an OID twice is refused. */
int pki_exts_add(pki_exts *e, const char *oid, int critical, const uint8_t *value, size_t len);
int pki_exts_add_san(pki_exts *e, const pki_general_name *names, size_t count, int critical);
int pki_exts_add_basic_constraints(pki_exts *e, int ca, int path_len /* -1: none */);
int pki_exts_add_key_usage(pki_exts *e, uint32_t bits);
/* Dotted OIDs or names: serverAuth, clientAuth, codeSigning, emailProtection, timeStamping,
 * OCSPSigning, smartcardLogon, anyExtendedKeyUsage. */
int pki_exts_add_eku(pki_exts *e, const char *const *purposes, size_t count);
int pki_exts_add_ski(pki_exts *e, const uint8_t *id, size_t len);
int pki_exts_add_aki(pki_exts *e, const uint8_t *id, size_t len);
int pki_exts_add_aia(pki_exts *e, const char *const *ocsp, size_t n_ocsp,
                     const char *const *ca_issuers, size_t n_ca_issuers);
int pki_exts_add_crl_dp(pki_exts *e, const char *const *urls, size_t count);
typedef struct {
    const char *oid;     /* e.g. "2.23.140.1.2.1" */
    const char *cps_uri; /* optional CPS qualifier */
} pki_policy;
int pki_exts_add_policies(pki_exts *e, const pki_policy *p, size_t count);
int pki_exts_add_ocsp_nocheck(pki_exts *e);
int pki_exts_add_ct_poison(pki_exts *e);
/* Extensions ::= SEQUENCE OF Extension. */
void pki_exts_write(pki_der_writer *w, const pki_exts *e);

/* RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits of an SPKI. */
int pki_key_id_from_spki(const uint8_t *spki, size_t len, uint8_t out[20]);

/* ---- Serial numbers ----------------------------------------------------------------------- */

#define PKI_SERIAL_RANDOM_LEN 16
/* Positive, 16 octets (127 bits) from wolfCrypt's DRBG, top octet 0x01..0x7f. */
int pki_serial_random(uint8_t out[PKI_SERIAL_RANDOM_LEN]);

/* ---- Issuer ------------------------------------------------------------------------------- */

/* What the builders and lints need to know about the issuing CA. */
typedef struct {
    uint8_t *name_der; /* the CA certificate's subject, byte for byte */
    size_t name_len;
    uint8_t ski[64];
    size_t ski_len; /* 0: the CA has no subjectKeyIdentifier */
    int64_t not_before, not_after;
    int is_ca;
    int path_len; /* pathLenConstraint, -1 when absent */
    int has_key_usage;
    uint32_t key_usage;
} pki_issuer;

/* Reads the issuer fields from a CA certificate (DER). */
int pki_issuer_from_cert(pki_issuer *is, const uint8_t *der, size_t len, char *err, size_t errlen);
void pki_issuer_free(pki_issuer *is);

/* Called once with the result (DER valid only during the call), or a negative status. */
typedef void (*pki_build_done_fn)(void *ctx, int status, const uint8_t *der, size_t len);

/* ---- Certificates ------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *serial; /* big-endian magnitude; NULL: pki_serial_random() */
    size_t serial_len;
    pki_name subject;
    const uint8_t *subject_der; /* instead of subject: a Name DER written byte for byte */
    size_t subject_der_len;
    int64_t not_before, not_after;
    const uint8_t *spki; /* the subject's SubjectPublicKeyInfo DER */
    size_t spki_len;
    pki_sig_alg sig_alg; /* 0: the signer's default */

    /* Extensions, each written only when set. SKI (from spki) and AKI (the issuer's SKI) are
     * always added; basicConstraints always (critical for CAs). */
    const pki_general_name *san;
    size_t san_count;
    int is_ca;
    int path_len;       /* for CAs; -1: no constraint */
    uint32_t key_usage; /* PKI_KU_*, 0: no extension */
    const char *const *eku;
    size_t eku_count;
    const char *const *ocsp_urls, *const *ca_issuer_urls, *const *crl_urls;
    size_t ocsp_url_count, ca_issuer_url_count, crl_url_count;
    const pki_policy *policies;
    size_t policy_count;
    int ocsp_nocheck, ct_poison;
    const uint8_t *aki; /* override for the AKI keyIdentifier; must equal the issuer's SKI */
    size_t aki_len;
    const pki_exts *extra; /* anything else, by OID */
} pki_cert_template;

/* Sets the defaults: path_len -1, everything else zero. */
void pki_cert_template_init(pki_cert_template *t);

/* Pre-issuance checks (what the builders run first). Each failure names its rule:
 * serial.range, time.range, validity.order, validity.within_issuer, issuer.ca,
 * issuer.key_usage, path_len.non_ca, path_len.issuer, ca.key_usage, leaf.key_usage,
 * subject.empty, san.well_formed, san.tls_server, aki.issuer_ski, extension.duplicate.
 * issuer NULL: self-signed. Returns 0, or PKI_X509_ERR_LINT with "lint <rule>: …" in err. */
int pki_cert_lint(const pki_cert_template *t, const pki_issuer *issuer, char *err, size_t errlen);

/* TBSCertificate DER (after the lints). sig_alg must fit the issuer's key. */
int pki_cert_tbs(const pki_cert_template *t, const pki_issuer *issuer, pki_sig_alg alg,
                 uint8_t **tbs, size_t *tbs_len, char *err, size_t errlen);
/* Builds and signs a certificate. issuer NULL: self-signed (the signer holds the subject's
 * key). */
int pki_cert_build(const pki_cert_template *t, const pki_issuer *issuer, pki_signer *signer,
                   pki_build_done_fn done, void *ctx, char *err, size_t errlen);
int pki_cert_build_sync(const pki_cert_template *t, const pki_issuer *issuer, pki_signer *signer,
                        uint8_t **der, size_t *len, char *err, size_t errlen);

/* ---- Certification requests (PKCS#10) ----------------------------------------------------- */

/* CertificationRequestInfo with the extensions (may be NULL) in an extensionRequest attribute,
 * signed by the subject's own key. */
int pki_csr_build(const pki_name *subject, const pki_exts *exts, pki_signer *signer,
                  pki_sig_alg alg, pki_build_done_fn done, void *ctx, char *err, size_t errlen);
int pki_csr_build_sync(const pki_name *subject, const pki_exts *exts, pki_signer *signer,
                       pki_sig_alg alg, uint8_t **der, size_t *len, char *err, size_t errlen);

/* ---- CRLs (v2) ---------------------------------------------------------------------------- */

/* CRLReason (RFC 5280 5.3.1). */
enum {
    PKI_REASON_NONE = -1,
    PKI_REASON_UNSPECIFIED = 0,
    PKI_REASON_KEY_COMPROMISE = 1,
    PKI_REASON_CA_COMPROMISE = 2,
    PKI_REASON_AFFILIATION_CHANGED = 3,
    PKI_REASON_SUPERSEDED = 4,
    PKI_REASON_CESSATION_OF_OPERATION = 5,
    PKI_REASON_CERTIFICATE_HOLD = 6,
    PKI_REASON_REMOVE_FROM_CRL = 8,
    PKI_REASON_PRIVILEGE_WITHDRAWN = 9,
    PKI_REASON_AA_COMPROMISE = 10,
};

typedef struct {
    const uint8_t *serial; /* big-endian magnitude */
    size_t serial_len;
    int64_t revoked_at;
    int reason;              /* PKI_REASON_*; NONE (or UNSPECIFIED) writes no reasonCode */
    int64_t invalidity_date; /* 0: none */
} pki_crl_entry;

typedef struct {
    int64_t this_update, next_update;
    uint64_t crl_number;
    const pki_crl_entry *entries;
    size_t count;
    /* Issuing distribution point, for partitioned CRLs (critical): written when idp_url is set
     * or one of the only_* flags is. */
    const char *idp_url;
    int idp_only_user_certs, idp_only_ca_certs;
    pki_sig_alg sig_alg; /* 0: the signer's default */
} pki_crl_template;

/* The issuer must be a CA with cRLSign (when it has keyUsage) and an SKI (for the AKI). */
int pki_crl_build(const pki_crl_template *t, const pki_issuer *issuer, pki_signer *signer,
                  pki_build_done_fn done, void *ctx, char *err, size_t errlen);
int pki_crl_build_sync(const pki_crl_template *t, const pki_issuer *issuer, pki_signer *signer,
                       uint8_t **der, size_t *len, char *err, size_t errlen);

/* ---- OCSP responses (RFC 6960) ------------------------------------------------------------ */

typedef enum { PKI_OCSP_GOOD = 0, PKI_OCSP_REVOKED = 1, PKI_OCSP_UNKNOWN = 2 } pki_ocsp_status;

/* The CertID to answer. Responders echo the request's: set der to the CertID DER from the parsed
 * request (pkix.h pki_ocsp_cert_id.cert_id_der) and it is written verbatim; otherwise it is
 * composed from the fields (hash AlgorithmIdentifier with NULL parameters, as openssl sends). */
typedef struct {
    const uint8_t *der;
    size_t der_len;
    char hash_oid[48]; /* "1.3.14.3.2.26" (SHA-1) or "2.16.840.1.101.3.4.2.1" (SHA-256) */
    uint8_t name_hash[64], key_hash[64];
    size_t hash_len;
    uint8_t serial[20];
    size_t serial_len;
} pki_ocsp_certid;

/* SHA-1 CertID for a certificate: issuer Name DER, issuer SPKI, serial. */
int pki_ocsp_certid_sha1(pki_ocsp_certid *id, const uint8_t *issuer_name, size_t name_len,
                         const uint8_t *issuer_spki, size_t spki_len, const uint8_t *serial,
                         size_t serial_len);

typedef struct {
    pki_ocsp_certid id;
    pki_ocsp_status status;
    int64_t revoked_at;               /* REVOKED only */
    int reason;                       /* REVOKED only; PKI_REASON_NONE: no reason */
    int64_t this_update, next_update; /* next_update 0: absent */
} pki_ocsp_single;

typedef struct {
    int64_t produced_at;
    const pki_ocsp_single *responses;
    size_t count;
    const uint8_t *nonce; /* the request's nonce octets (RFC 8954); NULL: no nonce */
    size_t nonce_len;
    const uint8_t *responder_cert; /* included in certs (delegated responder); optional */
    size_t responder_cert_len;
    pki_sig_alg sig_alg; /* 0: the signer's default */
} pki_ocsp_template;

/* responderID byKey (SHA-1 of the signer's public key), signed BasicOCSPResponse wrapped in a
 * successful OCSPResponse. */
int pki_ocsp_build(const pki_ocsp_template *t, pki_signer *signer, pki_build_done_fn done,
                   void *ctx, char *err, size_t errlen);
int pki_ocsp_build_sync(const pki_ocsp_template *t, pki_signer *signer, uint8_t **der, size_t *len,
                        char *err, size_t errlen);

/* An unsigned OCSPResponse carrying only an error responseStatus. */
enum {
    PKI_OCSP_MALFORMED_REQUEST = 1,
    PKI_OCSP_INTERNAL_ERROR = 2,
    PKI_OCSP_TRY_LATER = 3,
    PKI_OCSP_SIG_REQUIRED = 5,
    PKI_OCSP_UNAUTHORIZED = 6,
};
int pki_ocsp_error_response(int response_status, uint8_t **der, size_t *len);

#endif
