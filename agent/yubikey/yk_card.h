/* Operations on one connected YubiKey (PIV applet). Each runs on that key's worker thread
 * (see yk.h) with its ykpiv_state, and reports failures in a yk_result: a status from
 * signer.h's pki_sign_status (card absent, PIN wrong/blocked, …) plus a message for the
 * operator and, after a PIN check, the retries left. A wrong PIN is never retried here.
 *
 * Slots are named as yubico-piv-tool names them: "9a", "9c", "9d", "9e", "82" … "95".
 * The attestation slot f9 is never a provisionable slot. */
#ifndef AGENT_YK_CARD_H
#define AGENT_YK_CARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"
#include "secmem/secmem.h"
#include "signer/signer.h"
#include "ykpiv.h"

typedef struct {
    int status;  /* 0 or a pki_sign_status */
    int http;    /* the HTTP status an API answers with */
    int retries; /* PIN retries left after a failed check; -1 when not known */
    char code[32];
    char message[256];
} yk_result;

/* Slot name <-> number; -1 / NULL for anything but a provisionable slot. */
int ykc_slot_from_name(const char *name);
const char *ykc_slot_name(int slot);
/* Every provisionable slot, in display order; returns how many. */
size_t ykc_slots(const uint8_t **out);

/* Serial, version, PIN/PUK retries and whether they are still the factory values, whether
 * the management key is PIN-protected, and each slot's key (algorithm, policies, origin) and
 * certificate. Never verifies a PIN. */
json_t *ykc_describe(ykpiv_state *yk, uint32_t serial);
/* Re-reads what a PIN check or a slot change can move: retry counters, default flags,
 * set-up state, and (slot >= 0) that slot's entry, into desc (a ykc_describe result). */
void ykc_redescribe(ykpiv_state *yk, json_t *desc, int slot);
/* true when the key's PIN and PUK were changed and its management key is PIN-protected. */
bool ykc_is_set_up(ykpiv_state *yk);

/* First-time set-up of a key: change PIN and PUK, then set a random management key kept
 * PIN-protected on the key (as ykman does). mgm_hex is the current management key (NULL =
 * the factory default). Stops at the first failure and says which step failed. */
int ykc_setup(ykpiv_state *yk, const secret *pin, const secret *new_pin, const secret *puk,
              const secret *new_puk, const char *mgm_hex, yk_result *r);

/* Verifies the PIN once (no retry); on failure r says how many retries are left. */
int ykc_verify_pin(ykpiv_state *yk, const secret *pin, yk_result *r);
/* PIN, then the PIN-protected management key: what changing slots needs. */
int ykc_admin_login(ykpiv_state *yk, const secret *pin, yk_result *r);

/* "never", "once", "always" / "never", "always", "cached" -> YKPIV_*POLICY_*; -1 if unknown. */
int ykc_pin_policy(const char *name);
int ykc_touch_policy(const char *name);

/* Generates a key in slot (after ykc_admin_login). *spki is malloc'd SubjectPublicKeyInfo. */
int ykc_generate(ykpiv_state *yk, int slot, pki_key_type type, int pin_policy, int touch_policy,
                 uint8_t **spki, size_t *spki_len, yk_result *r);
/* Imports a software key (RSA 2048, P-256, P-384) into slot (after ykc_admin_login). */
int ykc_import_key(ykpiv_state *yk, int slot, const pki_key *key, int pin_policy, int touch_policy,
                   yk_result *r);
/* The public key of slot's key from the card's metadata (YubiKey 5.3+), malloc'd SPKI. */
int ykc_public_key(ykpiv_state *yk, int slot, uint8_t **spki, size_t *spki_len, yk_result *r);

/* Slot certificates (DER). write/delete need ykc_admin_login. read: 1 when the slot has none. */
int ykc_write_cert(ykpiv_state *yk, int slot, const uint8_t *der, size_t len, yk_result *r);
int ykc_read_cert(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r);
int ykc_delete_cert(ykpiv_state *yk, int slot, yk_result *r);
/* Removes the slot's key: overwritten by a fresh key whose private half nobody ever sees
 * (PIV before 5.7 has no key deletion), and its certificate deleted. Needs ykc_admin_login. */
int ykc_clear_slot(ykpiv_state *yk, int slot, yk_result *r);
/* The attestation certificate (signed by the f9 key) for slot's generated key, DER. */
int ykc_attest(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r);

/* Signs tbs (hashed here) with slot's key; the PIN must have been verified when the slot's
 * policy asks for it. sig is malloc'd, in the encodings of signer.h. */
int ykc_sign(ykpiv_state *yk, int slot, pki_key_type type, pki_sig_alg alg, const uint8_t *tbs,
             size_t tbs_len, uint8_t **sig, size_t *sig_len, yk_result *r);

/* Fills r (status, http, code, message). Returns status. */
int ykc_fail(yk_result *r, int status, int http, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
