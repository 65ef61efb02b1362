/* Internal to relay/ca: the certificate checks (on lib/pkix, in ca_import.c) and creation (on
 * lib/x509, in ca_create.c) meet here without including each other's headers. */
#ifndef RELAY_CA_IMPL_H
#define RELAY_CA_IMPL_H

#include "ca/ca.h"
#include "x509/x509.h"

typedef struct {
    uint8_t *cert_der;
    size_t cert_len;
    uint8_t *chain_der; /* issuers, concatenated DER, nearest first */
    size_t chain_len;
    char subject[STORE_SUBJECT_MAX];
} ca_checked;

void ca_checked_free(ca_checked *k);
/* Checks a CA certificate (PEM or DER text) for the key spki: the key matches, it is a CA
 * certificate, and the chain to a self-signed root is complete — from chain_pem, or the CAs
 * user_id can see on this relay. On failure: -1, *status (400/422) and code/err. */
int ca_check_cert(store *st, int64_t user_id, int64_t self_id, const uint8_t *spki, size_t spki_len,
                  const char *cert_pem, const char *chain_pem, ca_checked *out, int *status,
                  const char **code, char *err, size_t errlen);

/* The CA named by the request's first path parameter, if the caller may see it; answers 404
 * / 500 itself and returns false otherwise. Release with store_ca_clear. */
bool ca_load(api_call *c, store_ca *ca);

/* The subject member of a create request (text or object, CN required); answers the request on
 * failure. */
bool ca_subject_from_json(api_call *c, pki_name *n);

/* HSM CAs (ca_hsm.c): creation in state "awaiting_appliance" with its provisioning
 * certificate, and "Import Signed Certificate" on one. Both answer the request. */
void ca_create_hsm(api_call *c, const char *name, bool root);
void ca_hsm_import(api_call *c, store_ca *ca, const char *cert_pem, const char *chain_pem);
/* The hsm member of an HSM CA's JSON. */
json_t *ca_hsm_json(const store_ca *ca);

#endif
