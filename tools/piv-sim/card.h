/* The card as the reader sees it: ATR, power, and the transport-level parts of ISO 7816-4 that
 * sit below the applet — command chaining (CLA bit 0x10), response chaining (61xx + GET
 * RESPONSE) — and holding a command while it waits for a touch. */
#ifndef PIVSIM_CARD_H
#define PIVSIM_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "piv.h"
#include "tlv.h"

/* Largest command after chaining: a 3063-byte object plus its PUT DATA framing, with room. */
#define CARD_CHAIN_MAX 4096

struct card {
    struct piv piv;
    struct buf chain; /* data of the chained commands so far */
    uint8_t chain_ins, chain_p1, chain_p2;
    int chaining;
    struct buf pending; /* response bytes not yet fetched with GET RESPONSE */
    size_t pending_off;
    /* A command waiting for a touch. */
    int waiting;
    struct buf wait_data;
    struct apdu wait_apdu;
};

enum card_result { CARD_DONE, CARD_WAIT_TOUCH };

/* YubiKey 5 (USB) answer-to-reset. */
size_t card_atr(uint8_t *out, size_t cap);

void card_init(struct card *c, struct sim_state *st);
void card_free(struct card *c);
/* Power on/off and warm reset all drop the session. */
void card_power_reset(struct card *c);
/* One command APDU in; the response APDU (data + SW) is appended to out, unless the command now
 * waits for a touch (CARD_WAIT_TOUCH; answer later with card_resume). */
enum card_result card_transmit(struct card *c, const uint8_t *in, size_t len, struct buf *out);
/* Finishes a waiting command: touched = run it with the touch; otherwise it fails with 6985. */
enum card_result card_resume(struct card *c, int touched, struct buf *out);

#endif
