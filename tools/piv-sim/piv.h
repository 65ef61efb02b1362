/* The PIV applet of a YubiKey 5 (firmware 5.4.3): applet selection, PIN/PUK, management key,
 * key generation/import, signing/decryption/ECDH, data objects, metadata, attestation, reset.
 * It sees complete commands (chaining is undone by card.c) and answers with data and a status
 * word. */
#ifndef PIVSIM_PIV_H
#define PIVSIM_PIV_H

#include <stdbool.h>
#include <stdint.h>

#include "apdu.h"
#include "state.h"
#include "tlv.h"

#define FW_MAJOR 5
#define FW_MINOR 4
#define FW_PATCH 3

/* Not a status word: the command needs a touch. card.c holds it until one arrives. */
#define PIV_TOUCH_PENDING 0x0001

/* How long a touch stays usable: an armed touch waits this long for an operation, and a key with
 * the "cached" touch policy accepts a touch this old. */
#define TOUCH_CACHE_SECONDS 15.0

enum piv_app { APP_NONE, APP_PIV, APP_MGMT, APP_OTP };

struct piv_session {
    enum piv_app selected;
    bool pin_verified;
    bool pin_fresh; /* verified by the command just before (PIN policy "always") */
    bool mgm_auth;
    int auth_step; /* 0, AUTH_WITNESS or AUTH_CHALLENGE */
    uint8_t auth_data[16];
};

struct piv {
    struct sim_state *st;
    struct piv_session s;
    /* Touch, which survives resets: a touch is a physical event, not session state. */
    bool touch_armed;
    double touch_armed_at;
    double last_touch; /* when a touch was last consumed (for TOUCH_CACHED) */
    /* Attestation: the simulator CA's DER certificate (NULL: ATTEST unsupported). */
    const uint8_t *ca_cert_der;
    size_t ca_cert_len;
};

void piv_init(struct piv *p, struct sim_state *st);
/* Power-on or reset: nothing selected, nothing verified. */
void piv_reset_session(struct piv *p);
/* A simulated touch of the key's button. */
void piv_touch(struct piv *p);
/* Handles one complete command; appends response data to resp and returns the status word, or
 * PIV_TOUCH_PENDING (resp unchanged). */
uint16_t piv_command(struct piv *p, const struct apdu *a, struct buf *resp);

/* Monotonic seconds; replaceable for tests. */
double piv_now(void);

#endif
