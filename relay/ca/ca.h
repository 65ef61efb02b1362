/* Certificate authorities (CA-1 … CA-4, CA-6 … CA-9): creation (root, intermediate by CSR,
 * import of an existing key), import of the signed certificate, editing, deletion, downloads,
 * and the CA's keys (sealed at rest with lib/seal, "ca:<id>" as associated data). */
#ifndef RELAY_CA_H
#define RELAY_CA_H

#include "api/api.h"
#include "signer/signer.h"

/* The CA's signing key, unsealed (cached per CA; do not free). NULL with err on failure. For an
 * HSM CA the appliance-backed signer over every offered slot holding the CA's key (remade when
 * offers change). */
pki_signer *ca_signer(relay_app *app, const store_ca *ca, char *err, size_t errlen);
/* The CA's OCSP responder key, or NULL when it has none. */
pki_signer *ca_ocsp_signer(relay_app *app, const store_ca *ca, char *err, size_t errlen);
/* Drops cached keys of a CA (after deletion or re-keying). */
void ca_forget(int64_t ca_id);
void ca_cache_free(void);
/* Seals a signer's private key for CA ca_id (purpose "" for the CA key, "ocsp" for the
 * responder). *blob malloc'd. 0 or -1. */
int ca_seal_key(relay_app *app, int64_t ca_id, const char *purpose, pki_signer *s, uint8_t **blob,
                size_t *len);

/* After a CA becomes active: the "Web Server" template (new CAs only) and an OCSP responder
 * certificate (CA-8). Runs inside the caller's transaction. 0, or -1 with err and, when status
 * is given, the HTTP status of the failure (an HSM CA's signer errors: 503, 504, …). */
int ca_make_services(relay_app *app, store *st, store_ca *ca, pki_signer *signer, bool add_template,
                     int *status, char *err, size_t errlen);
/* Whether the CA's key lives on appliances (key type "hsm"). */
bool ca_is_hsm(const store_ca *ca);

/* REST handlers. */
void ca_create(api_call *c);      /* POST /api/v1/cas */
void ca_list(api_call *c);        /* GET /api/v1/cas */
void ca_get(api_call *c);         /* GET /api/v1/cas/{id} */
void ca_update(api_call *c);      /* PATCH /api/v1/cas/{id} */
void ca_delete(api_call *c);      /* DELETE /api/v1/cas/{id}?confirm=NAME */
void ca_import_cert(api_call *c); /* POST /api/v1/cas/{id}/certificate */
void ca_download(api_call *c);    /* GET /api/v1/cas/{id}/csr, …/certificate, …/chain */
void ca_renew_ocsp(api_call *c);  /* POST /api/v1/cas/{id}/ocsp-certificate */
/* GET /api/v1/cas/{id}/provisioning-certificate: an HSM CA's provisioning certificate (PEM)
 * with a new one-time token; 409 not_hsm for other CAs. */
void ca_provisioning_certificate(api_call *c);

/* JSON description of a CA for the API (no key material). */
json_t *ca_json(relay_app *app, const store_ca *ca);

#endif
