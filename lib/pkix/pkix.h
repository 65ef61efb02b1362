/* Parsers for the X.509 family that arrives from outside: certificates, PKCS#10 CSRs, CRLs and
 * OCSP requests (RFC 5280, RFC 2986, RFC 6960), on the strict DER reader of der/der_reader.h.
 *
 * Each parser takes DER (or PEM, where noted), returns a malloc'd result that points into a
 * private copy of the input (pki_span), and is freed with its own _free function. On failure it
 * returns NULL and writes what was wrong to err ("CSR signature does not verify", "certificate:
 * malformed extensions", …). Nothing is logged. Sizes are bounded (see PKI_PKIX_MAX_*) so hostile
 * input cannot make a parser allocate without limit.
 *
 * Signatures: pki_cert_verify / pki_crl_verify check against an issuer's SubjectPublicKeyInfo;
 * pki_csr_parse always checks the CSR's self-signature. Supported signature algorithms are those
 * of signer/signer.h (PKCS#1 v1.5 and PSS with SHA-2, ECDSA with SHA-2, Ed25519). */
#ifndef PKI_PKIX_H
#define PKI_PKIX_H

#include <stddef.h>
#include <stdint.h>

#include "signer/signer.h"

#define PKI_PKIX_MAX_EXTENSIONS 64
#define PKI_PKIX_MAX_NAMES 256        /* entries in a GeneralNames (SAN) */
#define PKI_PKIX_MAX_OCSP_REQUESTS 64 /* CertIDs in one OCSP request */
#define PKI_PKIX_MAX_CRL_ENTRIES 4000000

typedef struct {
    const uint8_t *p;
    size_t len;
} pki_span;

/* GeneralName (RFC 5280 4.2.1.6) as parsed (x509/x509.h has the builder's own, smaller
 * pki_general_name; the names differ so both headers can be used together). As text: DNS and URI
 * and email as written, IP addresses in inet_ntop form, directoryName as an RFC 4514 string, UPN
 * otherName as its UTF-8 value, registeredID as a dotted OID; other forms are kept with empty text.
 */
typedef enum {
    PKIX_GN_OTHER = 0,
    PKIX_GN_EMAIL = 1,
    PKIX_GN_DNS = 2,
    PKIX_GN_DIRNAME = 4,
    PKIX_GN_URI = 6,
    PKIX_GN_IP = 7,
    PKIX_GN_RID = 8,
    PKIX_GN_UPN = 100, /* otherName 1.3.6.1.4.1.311.20.2.3 */
} pkix_gn_type;

typedef struct {
    pkix_gn_type type;
    char *text; /* NUL-terminated, owned by the containing result */
} pkix_general_name;

typedef struct {
    char oid[64];
    int critical;
    pki_span value; /* extnValue contents (the DER inside the OCTET STRING) */
} pki_extension;

/* Extensions, all kept raw, the common ones also decoded. Duplicate OIDs are refused. */
typedef struct {
    size_t count;
    pki_extension *items;
    int has_basic_constraints, is_ca, path_len; /* path_len -1: absent */
    int has_key_usage;
    uint32_t key_usage; /* bit n = 1u << n, RFC 5280 order (as PKI_KU_* of x509/x509.h) */
    size_t n_eku;
    char (*eku)[64]; /* dotted OIDs */
    size_t n_san;
    pkix_general_name *san;
    pki_span ski;        /* subjectKeyIdentifier octets */
    pki_span aki_key_id; /* authorityKeyIdentifier keyIdentifier octets */
} pki_extensions;

/* Returns the extension with this dotted OID, or NULL. */
const pki_extension *pki_extensions_find(const pki_extensions *e, const char *oid);

typedef struct pki_cert {
    pki_span der, tbs;
    pki_span sig_alg_der;             /* the outer AlgorithmIdentifier */
    pki_sig_alg sig_alg;              /* 0 when not one we support */
    pki_span signature;               /* BIT STRING octets */
    int version;                      /* 1, 2 or 3 */
    pki_span serial;                  /* INTEGER magnitude, no sign octet */
    pki_span issuer_der, subject_der; /* Name, whole SEQUENCE */
    char *issuer, *subject;           /* RFC 4514 text */
    int64_t not_before, not_after;
    pki_span spki;
    pki_key_type key_type; /* 0 when the key is not one we support */
    unsigned rsa_bits;
    pki_extensions ext;
    void *priv;
} pki_cert;

/* DER or PEM ("CERTIFICATE"). */
pki_cert *pki_cert_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
void pki_cert_free(pki_cert *c);
/* 0 when c's signature verifies with issuer_spki and the inner and outer algorithms agree. */
int pki_cert_verify(const pki_cert *c, const uint8_t *issuer_spki, size_t issuer_spki_len);

typedef struct pki_csr {
    pki_span der, info;
    pki_sig_alg sig_alg;
    pki_span signature;
    char *subject;
    pki_span subject_der;
    pki_span spki;
    pki_key_type key_type;
    unsigned rsa_bits;
    pki_extensions ext; /* from the extensionRequest attribute (PKCS#9) */
    char *challenge;    /* challengePassword (SCEP), or NULL; a secret: never log it */
    void *priv;
} pki_csr;

/* DER or PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST"). Refuses a CSR whose
 * signature does not verify with its own key ("CSR signature does not verify"). */
pki_csr *pki_csr_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
void pki_csr_free(pki_csr *c);

typedef enum {
    PKI_OCSP_HASH_SHA1 = 1,
    PKI_OCSP_HASH_SHA256,
    PKI_OCSP_HASH_SHA384,
    PKI_OCSP_HASH_SHA512,
} pki_ocsp_hash;

typedef struct {
    pki_ocsp_hash hash;
    pki_span cert_id_der; /* the whole CertID, to echo back in the response */
    pki_span issuer_name_hash, issuer_key_hash, serial;
} pki_ocsp_cert_id;

typedef struct pki_ocsp_request {
    pki_span der;
    size_t count;
    pki_ocsp_cert_id *ids;
    int has_nonce;
    pki_span nonce; /* the nonce octets (RFC 8954: the OCTET STRING contents) */
    int is_signed;  /* optionalSignature present (not verified here) */
    pki_extensions ext;
    void *priv;
} pki_ocsp_request;

/* DER only (as POSTed, or base64-decoded from a GET URL). */
pki_ocsp_request *pki_ocsp_request_parse(const uint8_t *der, size_t len, char *err, size_t errlen);
void pki_ocsp_request_free(pki_ocsp_request *r);
/* The hash algorithm's digest length (20, 32, 48, 64). */
size_t pki_ocsp_hash_len(pki_ocsp_hash h);

/* CRL entry reason codes (RFC 5280 5.3.1); -1 when the entry has none. */
typedef struct {
    pki_span serial;
    int64_t revocation_date;
    int reason;
    int64_t invalidity_date; /* 0 when absent */
} pki_crl_revoked;

typedef struct pki_crl {
    pki_span der, tbs;
    pki_sig_alg sig_alg;
    pki_span signature;
    int version; /* 1 or 2 */
    pki_span issuer_der;
    char *issuer;
    int64_t this_update, next_update; /* next_update 0 when absent */
    size_t count;
    pki_crl_revoked *entries;
    int has_crl_number;
    pki_span crl_number; /* INTEGER magnitude */
    int is_delta;
    pki_extensions ext;
    void *priv;
} pki_crl;

/* DER or PEM ("X509 CRL"). */
pki_crl *pki_crl_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
void pki_crl_free(pki_crl *c);
int pki_crl_verify(const pki_crl *c, const uint8_t *issuer_spki, size_t issuer_spki_len);

/* What a to-be-signed structure is, for a signer that must decide whether to sign it (the
 * appliance's veto, ARCHITECTURE decision 4). Spans point into the caller's buffer; nothing is
 * allocated. The structure must be exactly one DER element of one of these kinds. */
typedef enum {
    PKI_TBS_UNKNOWN = 0,
    PKI_TBS_CERTIFICATE,   /* TBSCertificate */
    PKI_TBS_CRL,           /* TBSCertList */
    PKI_TBS_OCSP_RESPONSE, /* ResponseData of a BasicOCSPResponse */
    PKI_TBS_CSR,           /* CertificationRequestInfo */
    PKI_TBS_CMS_ATTRS,     /* CMS signedAttrs (a SET, as signed) */
} pki_tbs_kind;

typedef struct {
    pki_tbs_kind kind;
    pki_sig_alg sig_alg;           /* the algorithm named inside (certificate, CRL); 0 otherwise */
    pki_span issuer_der;           /* certificate, CRL: issuer Name */
    pki_span subject_der;          /* certificate, CSR: subject Name */
    pki_span serial;               /* certificate: serial magnitude */
    pki_span spki;                 /* certificate, CSR: the subject's key */
    int64_t not_before, not_after; /* certificate validity; CRL thisUpdate/nextUpdate */
    int is_ca;                     /* certificate: basicConstraints cA */
    pki_span responder_name_der;   /* OCSP: responderID byName, or */
    pki_span responder_key_hash;   /* OCSP: responderID byKey (SHA-1 of the key) */
    size_t ocsp_responses;         /* OCSP: number of SingleResponses */
} pki_tbs_info;

/* Classifies and reads tbs. Returns 0, or -1 with the reason in err ("not a to-be-signed
 * structure we know", "TBSCertificate: …"). */
int pki_tbs_inspect(const uint8_t *tbs, size_t len, pki_tbs_info *out, char *err, size_t errlen);
const char *pki_tbs_kind_name(pki_tbs_kind k); /* "certificate", "crl", "ocsp-response", … */

/* Helpers the parsers share, useful to their callers too. */
/* RFC 4514 text of a Name (malloc'd), e.g. "CN=leaf,O=Example,C=US". NULL when malformed. */
char *pki_name_to_text(const uint8_t *name_der, size_t len);
/* Lower-case hex of a span (malloc'd), for serials in logs and JSON. */
char *pki_span_hex(pki_span s);

#endif
