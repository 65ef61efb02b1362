/* Issuing one certificate from a CA and a template: the single place where the relay turns
 * "subject, SANs, public key, validity" into a signed certificate row (the certificate and its
 * row are written together, so neither exists without the other). */
#ifndef RELAY_ISSUE_H
#define RELAY_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "signer/signer.h"
#include "store/store.h"
#include "templates/templates.h"

#define ISSUE_MAX_SANS 64

typedef struct {
    const char *subject; /* "/CN=x/O=y" or RFC 4514 "CN=x,O=y" */
    /* SANs as "DNS:name", "IP:addr", "email:a@b", "URI:scheme:…", "UPN:a@b" */
    const char *const *sans;
    size_t n_sans;
    const uint8_t *spki; /* the subject's SubjectPublicKeyInfo DER */
    size_t spki_len;
    int64_t not_before, not_after;
    int explicit_end; /* not_after was asked for: refuse (rather than shorten) past the CA's */
    int64_t template_id, request_id;
    const char *kind; /* "leaf", "ca", "ocsp"; NULL = leaf (or ca when the template is a CA) */
    int ocsp_signing; /* responder certificate: EKU OCSPSigning + id-pkix-ocsp-nocheck */
} issue_params;

/* Signs with the CA's key and stores the row. tpl may be NULL for service certificates (then
 * no CRL/OCSP/AIA extensions beyond what ocsp_signing implies). Returns 0 and fills out (the
 * caller clears it), or -1 with a message for the user in err; *status gets an HTTP status
 * (400 for bad input or a failed lint, the signer's own for an HSM CA's appliance — 503, 423,
 * 403, 504, 502 — and 500 otherwise). */
/* The API error code for an issuance failure: the signer's ("appliance_offline", "timeout", …)
 * when err names one, else fallback. */
const char *issue_error_code(const char *err, const char *fallback);
int issue_certificate(relay_app *app, store *st, const store_ca *ca, pki_signer *ca_signer,
                      const tpl_settings *tpl, const issue_params *p, store_cert *out, int *status,
                      char *err, size_t errlen);

/* issue_certificate in two steps, for a caller that stores the certificate inside a
 * transaction of its own: the signature (which for an HSM CA is a round trip to an appliance,
 * up to the signer's timeout) is made first, outside any transaction, so that the database's
 * write lock is never held while an appliance works. issue_sign fills out (the caller clears
 * it) and *crl_part (the partition assigned, or -1); issue_store writes it: 0, 1 when the
 * serial number is taken (sign again), -1 on another error. Same status and err as above. */
int issue_sign(relay_app *app, store *st, const store_ca *ca, pki_signer *ca_signer,
               const tpl_settings *tpl, const issue_params *p, store_cert *out, int64_t *crl_part,
               int *status, char *err, size_t errlen);
int issue_store(store *st, store_cert *cert, int64_t crl_part, int *status, char *err,
                size_t errlen);

/* The CA's public service URLs. */
void issue_ca_urls(const relay_app *app, int64_t ca_id, char *cert, char *crl, char *ocsp,
                   char *cps, size_t cap);
/* The URL of one CRL partition of a CA (partitioned CRLs, R-3): <public base>/pki/ca/<id>/crl/
 * <part>.crl. The same text goes into the certificate's CDP and the CRL's IDP. */
void issue_crl_part_url(const relay_app *app, int64_t ca_id, int64_t part, char *url, size_t cap);

/* Splits a validity request into times: explicit start/end (RFC 3339) win over days. */
int issue_validity(int64_t now, int days, const char *start, const char *end, int64_t *nb,
                   int64_t *na, char *err, size_t errlen);

#endif
