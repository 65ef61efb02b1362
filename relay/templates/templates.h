/* Certificate templates (TPL-1 … TPL-6, TPL-9, TPL-10): what a certificate issued from a
 * template looks like. Settings live in the store as a JSON object; this module is the only
 * one that reads or writes that JSON, and it refuses unknown keys and bad values. */
#ifndef RELAY_TEMPLATES_H
#define RELAY_TEMPLATES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"

#define TPL_MAX_EKU 12

typedef struct {
    /* TPL-2 general */
    bool enabled;
    bool allow_public;
    bool renewal;              /* renewal authorised by a valid existing certificate */
    bool renewal_revoke_old;   /* revoke the old one */
    int renewal_within_days;   /* only within N days of expiry (0: any time) */
    bool renewal_copy_subject; /* copy subject and SANs */
    char sig_alg[32];          /* "" = the CA's */
    int validity_days;
    char description[512];
    /* TPL-3 subject */
    bool subject_from_csr;      /* else the defaults below */
    char subject_defaults[512]; /* "/O=Example/C=DE": attributes filled in unless given */
    /* TPL-4 key usage */
    uint32_t key_usage;        /* PKI_KU_* bits */
    char eku[TPL_MAX_EKU][48]; /* names (serverAuth…) or dotted OIDs incl. custom ones */
    int n_eku;
    /* TPL-5 basic constraints */
    bool is_ca;
    int path_len; /* -1: none */
    /* TPL-6 CRL/OCSP/AIA/CPS */
    bool include_aia;
    char aia_issuer_url[256]; /* custom caIssuers URL; "" = the relay's */
    bool include_ocsp;
    bool include_cdp;
    bool include_policies;
    char policy_oid[64];
    char cps_url[256]; /* "" = the relay's CPS page */
} tpl_settings;

/* Defaults for a new template (Web Server-like, 365 days). */
void tpl_defaults(tpl_settings *t);
/* Applies a JSON object onto t (only the members present). Unknown members and bad values
 * are refused with a message in err (for a 400). */
int tpl_from_json(tpl_settings *t, json_t *obj, char *err, size_t errlen);
json_t *tpl_to_json(const tpl_settings *t);
/* Loads stored settings text (defaults for anything missing). */
int tpl_parse_stored(tpl_settings *t, const char *text);

/* The starter templates (TPL-1), by name: "Web Server", "Client Authentication",
 * "Web Server + Client", "Code Signing", "S/MIME", "Document Signing",
 * "Certificate Authority", "Timestamping". Returns false for another name. */
bool tpl_starter(const char *name, tpl_settings *t);
extern const char *const TPL_STARTER_NAMES[];
extern const size_t TPL_STARTER_COUNT;
/* Creates a template row from a starter; 0, or a STORE_* code. */
int tpl_create_starter(store *st, int64_t ca_id, const char *name, int64_t now, int64_t *id);

/* REST handlers. */
void templates_list(api_call *c);     /* GET /api/v1/cas/{id}/templates */
void templates_create(api_call *c);   /* POST /api/v1/cas/{id}/templates */
void templates_get(api_call *c);      /* GET /api/v1/templates/{id} */
void templates_update(api_call *c);   /* PATCH /api/v1/templates/{id} */
void templates_delete(api_call *c);   /* DELETE /api/v1/templates/{id} */
void templates_starters(api_call *c); /* GET /api/v1/template-starters */

/* The template's public URLs (TPL-10) for base_url. */
json_t *tpl_urls(const char *base_url, int64_t template_id);

#endif
