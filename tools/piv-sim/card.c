/* Card transport layer (see card.h). */
#include "card.h"

#include "crypto.h"

#include <string.h>

static const uint8_t ATR[] = {0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE,
                              0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59,
                              0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40};

size_t card_atr(uint8_t *out, size_t cap)
{
    if (cap < sizeof(ATR)) {
        return 0;
    }
    memcpy(out, ATR, sizeof(ATR));
    return sizeof(ATR);
}

void card_init(struct card *c, struct sim_state *st)
{
    memset(c, 0, sizeof(*c));
    piv_init(&c->piv, st);
    buf_init(&c->chain, CARD_CHAIN_MAX);
    buf_init(&c->pending, 0);
    buf_init(&c->wait_data, CARD_CHAIN_MAX);
}

void card_free(struct card *c)
{
    buf_free_secret(&c->chain);
    buf_free_secret(&c->pending);
    buf_free_secret(&c->wait_data);
}

void card_power_reset(struct card *c)
{
    piv_reset_session(&c->piv);
    buf_reset(&c->chain);
    c->chaining = 0;
    buf_reset(&c->pending);
    c->pending_off = 0;
    c->waiting = 0;
    buf_reset(&c->wait_data);
}

static void put_sw(struct buf *out, uint16_t sw)
{
    buf_put_u8(out, (uint8_t)(sw >> 8));
    buf_put_u8(out, (uint8_t)sw);
}

/* Sends the next piece of the pending response: at most `max` bytes, 61xx while more remain. */
static void send_pending(struct card *c, size_t max, struct buf *out)
{
    size_t left = c->pending.len - c->pending_off;
    size_t n = left < max ? left : max;
    buf_put(out, c->pending.data + c->pending_off, n);
    c->pending_off += n;
    left -= n;
    if (left == 0) {
        buf_reset(&c->pending);
        c->pending_off = 0;
        put_sw(out, SW_OK);
    } else {
        put_sw(out, (uint16_t)(SW_BYTES_REMAINING | (left > 0xFF ? 0 : left)));
    }
}

/* Runs a complete command and frames its answer. */
static enum card_result run(struct card *c, const struct apdu *a, struct buf *out)
{
    struct buf resp;
    buf_init(&resp, 0);
    uint16_t sw = piv_command(&c->piv, a, &resp);
    if (sw == PIV_TOUCH_PENDING) {
        buf_free(&resp);
        if (a->data != c->wait_data.data) { /* a resumed command may wait again */
            buf_reset(&c->wait_data);
            buf_put(&c->wait_data, a->data, a->lc);
        }
        c->wait_apdu = *a;
        if (c->wait_data.len > 0) {
            c->wait_apdu.data = c->wait_data.data;
        }
        c->waiting = 1;
        return CARD_WAIT_TOUCH;
    }
    /* Short commands get at most 256 bytes at a time; extended ones up to Le (and what a vpcd
     * frame can carry). */
    size_t max = 256;
    if (a->extended) {
        max = a->has_le ? a->le : 65536;
        if (max > 0xFFFF - 2) {
            max = 0xFFFF - 2;
        }
    }
    if (resp.len > 0 && (sw == SW_OK)) {
        buf_reset(&c->pending);
        buf_put(&c->pending, resp.data, resp.len);
        c->pending_off = 0;
        send_pending(c, max, out);
    } else {
        put_sw(out, sw);
    }
    buf_free_secret(&resp);
    return CARD_DONE;
}

enum card_result card_transmit(struct card *c, const uint8_t *in, size_t len, struct buf *out)
{
    struct apdu a;
    uint16_t sw = apdu_parse(in, len, &a);
    if (c->waiting) { /* the reader should not send while we wait; treat as abort */
        c->waiting = 0;
    }
    if (sw != 0) {
        put_sw(out, sw);
        return CARD_DONE;
    }
    if (a.ins == 0xC0 && (a.cla & ~0x10) == 0) { /* GET RESPONSE */
        if (c->pending.len == 0) {
            put_sw(out, SW_CONDITIONS);
        } else {
            send_pending(c, a.has_le ? a.le : 256, out);
        }
        return CARD_DONE;
    }
    buf_reset(&c->pending);
    c->pending_off = 0;
    if ((a.cla & ~0x10) != 0) {
        put_sw(out, SW_CLA_NOT_SUPPORTED);
        return CARD_DONE;
    }
    bool more = (a.cla & 0x10) != 0;
    if (c->chaining && (a.ins != c->chain_ins || a.p1 != c->chain_p1 || a.p2 != c->chain_p2)) {
        c->chaining = 0;
        buf_reset(&c->chain);
        put_sw(out, SW_LAST_CMD_EXPECTED);
        return CARD_DONE;
    }
    if (more || c->chaining) {
        buf_put(&c->chain, a.data, a.lc);
        if (c->chain.failed) {
            c->chaining = 0;
            buf_reset(&c->chain);
            put_sw(out, SW_WRONG_LENGTH);
            return CARD_DONE;
        }
    }
    if (more) {
        c->chaining = 1;
        c->chain_ins = a.ins;
        c->chain_p1 = a.p1;
        c->chain_p2 = a.p2;
        put_sw(out, SW_OK);
        return CARD_DONE;
    }
    enum card_result r;
    if (c->chaining) {
        if (c->chain.len > 0) { /* else a.data keeps pointing at the parser's empty data */
            a.data = c->chain.data;
        }
        a.lc = c->chain.len;
        c->chaining = 0;
        r = run(c, &a, out);
        buf_reset(&c->chain);
    } else {
        r = run(c, &a, out);
    }
    return r;
}

enum card_result card_resume(struct card *c, int touched, struct buf *out)
{
    if (!c->waiting) {
        return CARD_DONE;
    }
    c->waiting = 0;
    if (!touched) {
        put_sw(out, SW_CONDITIONS);
        return CARD_DONE;
    }
    piv_touch(&c->piv);
    struct apdu a = c->wait_apdu;
    return run(c, &a, out);
}
