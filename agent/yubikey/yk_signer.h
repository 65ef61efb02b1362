/* A pki_signer (signer/signer.h) whose private key lives in a YubiKey slot. Signatures are
 * made on the key's worker thread (yk.h), so sign() never blocks its caller; the completion
 * runs on that worker. With a PIN, the signer verifies it once before each signature; after
 * a wrong PIN it forgets the PIN and refuses every later signature with PIN_REQUIRED without
 * touching the card, so retries are never burnt in a loop. */
#ifndef AGENT_YK_SIGNER_H
#define AGENT_YK_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "secmem/secmem.h"
#include "signer/signer.h"
#include "yubikey/yk.h"
#include "yubikey/yk_card.h"

/* spki: the slot key's SubjectPublicKeyInfo (copied). pin may be NULL (PIN policy never, or
 * verified already). NULL with a reason in err when spki is not a key a YubiKey holds. */
pki_signer *yk_signer_new(yk_manager *m, uint32_t serial, int slot, const uint8_t *spki,
                          size_t spki_len, const secret *pin, char *err, size_t errlen);
/* The last failure's details (message, retries left); r->status 0 when there was none. */
void yk_signer_last_error(pki_signer *s, yk_result *r);

#endif
