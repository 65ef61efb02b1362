/* Issued certificates: listing and filtering, downloads (PEM, DER, chain as a PEM
 * bundle or PKCS#7), revocation with RFC 5280 reasons and unrevoke from certificateHold. */
#ifndef RELAY_CERTS_H
#define RELAY_CERTS_H

#include "api/api.h"

json_t *cert_json(const store_cert *c, bool with_pem);
/* PEM bundle: the certificate, its CA, and the CA's chain up to the root. malloc'd. */
char *cert_chain_pem(const store_ca *ca, const uint8_t *der, size_t len);
/* PEM of concatenated DER elements (certificates, a CSR) with one label. malloc'd. */
char *certs_pem(const uint8_t *der, size_t len, const char *label);
/* Reason names of RFC 5280 ("keyCompromise", …) and back; -1 when unknown. */
const char *cert_reason_name(int reason);
int cert_reason_from_name(const char *name);

void certs_list(api_call *c);     /* GET /api/v1/cas/{id}/certificates */
void certs_get(api_call *c);      /* GET /api/v1/certificates/{id} */
void certs_download(api_call *c); /* GET /api/v1/certificates/{id}/download?format= */
void certs_revoke(api_call *c);   /* POST /api/v1/certificates/{id}/revoke */
void certs_unrevoke(api_call *c); /* POST /api/v1/certificates/{id}/unrevoke */

/* Called after any revocation change: the CA's CRL and OCSP answers must be remade. */
void certs_revocation_changed(relay_app *app, store *st, int64_t ca_id, const char *serial);

#endif
