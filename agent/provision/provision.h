/* The provisioning operations behind the wizard and the key views (feature A-3). Each runs on
 * a thread of its own (never on the event loop) and talks to the card through the key's worker
 * (yk.h); signing goes through the YubiKey signer (yk_signer.h) and the certificate and CSR
 * builders of lib/x509. Every operation takes the request's JSON and returns the answer's JSON,
 * or fills r with the error (HTTP status, code, message, PIN retries left).
 *
 * Slot states kept in the state database: "key_generated" / "key_imported" (a key, no CA
 * certificate yet), "csr_pending" (CSR made, waiting for the signed certificate),
 * "provisioned" (CA certificate on the slot). */
#ifndef AGENT_PROVISION_H
#define AGENT_PROVISION_H

#include <jansson.h>
#include <stdint.h>

#include "state/state.h"
#include "yubikey/yk.h"
#include "yubikey/yk_card.h"

struct agent_link;

typedef struct {
    yk_manager *keys;
    agent_state *state;
    struct agent_link *link; /* the relay link (NULL: not running); enrolment with an offer */
    const char *actor;       /* the client address, for the audit log */
} prov_env;

typedef enum {
    PROV_SETUP,       /* {pin, new_pin, puk, new_puk, management_key?} */
    PROV_VERIFY_PIN,  /* {pin} */
    PROV_GENERATE,    /* {pin, algorithm, pin_policy?, touch_policy?} */
    PROV_IMPORT_KEY,  /* {pin, key | pkcs12 (base64), password?, pin_policy?, touch_policy?} */
    PROV_PROVISION,   /* {pin, template, mode?: "self-signed" | "csr", confirm_fingerprint?} */
    PROV_CERTIFICATE, /* {pin, certificate, chain?} */
    PROV_VIEW,        /* {} */
    PROV_CLEAR,       /* {pin, confirm: "<slot>"} */
    PROV_ATTEST,      /* {} */
    PROV_UNLOCK,      /* {pin}: verified, then kept for link signatures until removal/restart */
    PROV_LOCK,        /* {}: the kept PIN is forgotten */
} prov_op;

/* Runs op on key serial (and slot, -1 for key-wide operations). in is borrowed; secrets in
 * it are moved to locked memory and wiped. Returns the answer, or NULL with r filled. */
json_t *provision_run(const prov_env *env, prov_op op, uint32_t serial, int slot, json_t *in,
                      yk_result *r);

#endif
