/* Every REST endpoint and public per-CA service (except OCSP, see relay/ocsp). docs/api.md
 * describes each; tests walk this table (`pki-relay routes`). */
#include "accounts/accounts.h"
#include "acme/acme.h"
#include "api/api.h"
#include "audit/audit.h"
#include "ca/ca.h"
#include "certs/certs.h"
#include "crl/crl.h"
#include "link/link_server.h"
#include "public/public.h"
#include "requests/requests.h"
#include "templates/templates.h"

#define PUB (API_PUBLIC | API_NO_CSRF)

const api_route API_ROUTES[] = {
    /* accounts */
    {"POST", "/api/v1/setup", PUB | API_BODY, accounts_setup,
     "create the first administrator with the one-time set-up token"},
    {"POST", "/api/v1/session", PUB | API_BODY, accounts_login, "log in"},
    {"DELETE", "/api/v1/session", 0, accounts_logout, "log out"},
    {"GET", "/api/v1/me", 0, accounts_me, "who am I"},
    {"PUT", "/api/v1/me/password", API_BODY, accounts_password, "change my password"},
    {"GET", "/api/v1/users", API_ADMIN, accounts_user_list, "list users"},
    {"POST", "/api/v1/users", API_ADMIN | API_BODY, accounts_user_create, "create a user"},
    {"GET", "/api/v1/tokens", 0, accounts_token_list, "list my API tokens"},
    {"POST", "/api/v1/tokens", API_BODY, accounts_token_create, "create an API token"},
    {"DELETE", "/api/v1/tokens/{id}", 0, accounts_token_delete, "delete one of my API tokens"},
    {"GET", "/api/v1/audit", 0, audit_list, "audit log (administrators: all entries)"},
    /* certificate authorities */
    {"GET", "/api/v1/cas", 0, ca_list, "list my CAs"},
    {"POST", "/api/v1/cas", API_BODY, ca_create, "create a root, intermediate or imported CA"},
    {"GET", "/api/v1/cas/{id}", 0, ca_get, "one CA"},
    {"PATCH", "/api/v1/cas/{id}", API_BODY, ca_update, "edit CPS, CRL and service settings"},
    {"DELETE", "/api/v1/cas/{id}", 0, ca_delete, "delete a CA (?confirm=<name>)"},
    {"POST", "/api/v1/cas/{id}/certificate", API_BODY, ca_import_cert,
     "import the signed certificate of an intermediate"},
    {"GET", "/api/v1/cas/{id}/csr", 0, ca_download, "the intermediate's CSR (PEM)"},
    {"GET", "/api/v1/cas/{id}/certificate", 0, ca_download, "the CA certificate (PEM)"},
    {"GET", "/api/v1/cas/{id}/chain", 0, ca_download, "the CA certificate and chain (PEM)"},
    {"POST", "/api/v1/cas/{id}/ocsp-certificate", 0, ca_renew_ocsp,
     "make a new OCSP responder certificate"},
    {"GET", "/api/v1/cas/{id}/provisioning-certificate", 0, ca_provisioning_certificate,
     "an HSM CA's provisioning certificate with a new one-time token (PEM)"},
    /* templates */
    {"GET", "/api/v1/template-starters", 0, templates_starters, "the starter templates"},
    {"GET", "/api/v1/cas/{id}/templates", 0, templates_list, "a CA's templates"},
    {"POST", "/api/v1/cas/{id}/templates", API_BODY, templates_create, "create a template"},
    {"GET", "/api/v1/templates/{id}", 0, templates_get, "one template"},
    {"PATCH", "/api/v1/templates/{id}", API_BODY, templates_update, "edit a template"},
    {"DELETE", "/api/v1/templates/{id}", 0, templates_delete,
     "delete a template (none of its certificates active)"},
    /* workflows */
    {"POST", "/api/v1/templates/{id}/requests", API_BODY, requests_submit,
     "submit a CSR (pending request)"},
    {"POST", "/api/v1/templates/{id}/preapproved", API_BODY, requests_preapprove,
     "a pre-approved request with a claim link"},
    {"GET", "/api/v1/cas/{id}/requests", 0, requests_list, "a CA's requests"},
    {"POST", "/api/v1/cas/{id}/requests/bulk", API_BODY, requests_bulk,
     "approve or decline several requests"},
    {"GET", "/api/v1/requests/{id}", 0, requests_get, "one request"},
    {"POST", "/api/v1/requests/{id}/approve", API_BODY, requests_approve,
     "issue, with optional overrides"},
    {"POST", "/api/v1/requests/{id}/decline", 0, requests_decline, "decline"},
    {"POST", "/api/v1/public/templates/{id}/requests", PUB | API_BODY, requests_public,
     "public certificate request (templates that allow it)"},
    {"POST", "/api/v1/public/claim", PUB | API_BODY, requests_claim,
     "claim a pre-approved request with a CSR"},
    /* issued certificates */
    {"GET", "/api/v1/cas/{id}/certificates", 0, certs_list, "list and filter certificates"},
    {"GET", "/api/v1/certificates/{id}", 0, certs_get, "one certificate"},
    {"GET", "/api/v1/certificates/{id}/download", 0, certs_download, "?format=pem|der|chain|p7"},
    {"POST", "/api/v1/certificates/{id}/revoke", API_BODY, certs_revoke, "revoke"},
    {"POST", "/api/v1/certificates/{id}/unrevoke", 0, certs_unrevoke,
     "take a certificate off hold"},
    /* public services (also on the plain-HTTP listener) */
    {"GET", "/pki/ca/{id}/cert", PUB, public_ca_cert, "CA certificate (DER)"},
    {"GET", "/pki/ca/{id}/cert.pem", PUB, public_ca_cert_pem, "CA certificate (PEM)"},
    {"GET", "/pki/ca/{id}/chain.pem", PUB, public_ca_chain, "CA certificate and chain (PEM)"},
    {"GET", "/pki/ca/{id}/crl", PUB, crl_serve, "CRL (DER)"},
    {"GET", "/pki/ca/{id}/crl/{part}", PUB, crl_part_serve,
     "one partition's CRL (DER), {part} = <n>.crl"},
    {"GET", "/pki/ca/{id}/cps", PUB, public_ca_cps, "certification practice statement"},
    /* ACME administration (relay/acme) */
    {"GET", "/api/v1/acme/policies", API_ADMIN, acme_api_policy_list, "ACME policies"},
    {"POST", "/api/v1/acme/policies", API_ADMIN | API_BODY, acme_api_policy_create,
     "create an ACME policy (template, allowed and pre-approved domains)"},
    {"DELETE", "/api/v1/acme/policies/{id}", API_ADMIN, acme_api_policy_delete,
     "delete an unused ACME policy"},
    {"GET", "/api/v1/acme/eab", API_ADMIN, acme_api_eab_list, "EAB credentials (no keys)"},
    {"POST", "/api/v1/acme/eab", API_ADMIN | API_BODY, acme_api_eab_create,
     "create an EAB credential (HMAC key shown once)"},
    {"DELETE", "/api/v1/acme/eab/{id}", API_ADMIN, acme_api_eab_delete, "delete an EAB credential"},
    /* the appliance link (relay/link) */
    {"GET", "/api/v1/appliances", API_ADMIN, relay_link_api_list,
     "appliances: online, last seen, keys and slots"},
    {"POST", "/api/v1/appliances/enrolment-tokens", API_ADMIN | API_BODY, relay_link_api_token,
     "a one-time enrolment token for an appliance (shown once)"},
    {"GET", "/api/v1/link/certificate", PUB, relay_link_api_certificate,
     "the relay's link certificate (PEM)"},
    {"POST", "/api/v1/appliances/signature", API_ADMIN | API_BODY, relay_link_api_sign,
     "a signature through an appliance's slot (checks the whole path)"},
};

const size_t API_ROUTES_LEN = sizeof API_ROUTES / sizeof API_ROUTES[0];
