/* Shared between the PIV command files (piv.c, piv_auth.c, piv_keys.c, piv_data.c). */
#ifndef PIVSIM_PIV_INTERNAL_H
#define PIVSIM_PIV_INTERNAL_H

#include "piv.h"

#define AUTH_WITNESS 1
#define AUTH_CHALLENGE 2

#define SLOT_CARDMGM 0x9B
#define SLOT_ATTESTATION 0xF9
#define REF_PIN 0x80
#define REF_PUK 0x81

/* Largest data object a YubiKey 5 stores (3072-byte buffer minus the PUT DATA framing). */
#define OBJ_MAX 3063

bool piv_is_key_slot(uint8_t slot);
uint8_t piv_default_pin_policy(uint8_t slot);
/* Checks the key's PIN and touch policy; returns SW_OK, SW_SECURITY_STATUS or
 * PIV_TOUCH_PENDING. */
uint16_t piv_check_key_policy(struct piv *p, uint8_t slot);
/* Consumes a touch if one is armed. */
bool piv_take_touch(struct piv *p);
/* Saves the state; a failure is reported as a memory failure, like a card that cannot write. */
uint16_t piv_save(struct piv *p);

uint16_t piv_verify(struct piv *p, const struct apdu *a);
uint16_t piv_change_reference(struct piv *p, const struct apdu *a);
uint16_t piv_reset_retry(struct piv *p, const struct apdu *a);
uint16_t piv_set_pin_retries(struct piv *p, const struct apdu *a);
uint16_t piv_set_mgmkey(struct piv *p, const struct apdu *a);
uint16_t piv_mgm_authenticate(struct piv *p, const struct apdu *a, const uint8_t *tlv, size_t len,
                              struct buf *resp);
uint16_t piv_reset(struct piv *p, const struct apdu *a);

uint16_t piv_general_authenticate(struct piv *p, const struct apdu *a, struct buf *resp);
uint16_t piv_generate(struct piv *p, const struct apdu *a, struct buf *resp);
uint16_t piv_import_key(struct piv *p, const struct apdu *a);
uint16_t piv_get_metadata(struct piv *p, const struct apdu *a, struct buf *resp);
uint16_t piv_attest(struct piv *p, const struct apdu *a, struct buf *resp);

uint16_t piv_get_data(struct piv *p, const struct apdu *a, struct buf *resp);
uint16_t piv_put_data(struct piv *p, const struct apdu *a);

#endif
