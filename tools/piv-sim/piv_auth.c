/* PIV authentication state: PIN and PUK (VERIFY, CHANGE REFERENCE, RESET RETRY COUNTER, SET PIN
 * RETRIES), the management key (mutual/single challenge-response, SET MANAGEMENT KEY) and the
 * PIV reset. Counters are persisted before the answer goes out, so pulling the key mid-command
 * never gives a free retry. */
#include "piv_internal.h"

#include "crypto.h"

#include <string.h>

/* A PIN/PUK field is 8 bytes, the value padded with 0xFF; PINs are 6 to 8 bytes. */
static bool pin_format_ok(const uint8_t *f)
{
    size_t n = 0;
    while (n < PIN_MAX_LEN && f[n] != 0xFF) {
        n++;
    }
    for (size_t i = n; i < PIN_MAX_LEN; i++) {
        if (f[i] != 0xFF) {
            return false;
        }
    }
    return n >= 6;
}

static size_t pin_field_len(const uint8_t *f)
{
    size_t n = 0;
    while (n < PIN_MAX_LEN && f[n] != 0xFF) {
        n++;
    }
    return n;
}

static bool ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= a[i] ^ b[i];
    }
    return d == 0;
}

/* Checks a PIN or PUK field against the stored value and updates its counter. */
static uint16_t check_reference(struct piv *p, bool puk, const uint8_t *field)
{
    struct sim_state *s = p->st;
    uint8_t *left = puk ? &s->puk_left : &s->pin_left;
    uint8_t tries = puk ? s->puk_tries : s->pin_tries;
    const uint8_t *stored = puk ? s->puk : s->pin;
    if (*left == 0) {
        return SW_AUTH_BLOCKED;
    }
    if (!ct_equal(field, stored, PIN_MAX_LEN)) {
        (*left)--;
        if (!puk) {
            p->s.pin_verified = false;
        }
        if (piv_save(p) != SW_OK) {
            return SW_MEMORY_FAILURE;
        }
        return (uint16_t)(SW_VERIFY_FAIL | (*left > 15 ? 15 : *left));
    }
    if (*left != tries) {
        *left = tries;
        if (piv_save(p) != SW_OK) {
            return SW_MEMORY_FAILURE;
        }
    }
    return SW_OK;
}

uint16_t piv_verify(struct piv *p, const struct apdu *a)
{
    if (a->p1 == 0xFF && a->p2 == REF_PIN && a->lc == 0) { /* YubiKey: forget the verification */
        p->s.pin_verified = false;
        return SW_OK;
    }
    if (a->p1 != 0x00 || a->p2 != REF_PIN) {
        return SW_REF_NOT_FOUND;
    }
    if (a->lc == 0) { /* status query */
        if (p->s.pin_verified) {
            return SW_OK;
        }
        uint8_t left = p->st->pin_left;
        return left == 0 ? SW_AUTH_BLOCKED : (uint16_t)(SW_VERIFY_FAIL | (left > 15 ? 15 : left));
    }
    if (a->lc != PIN_MAX_LEN || !pin_format_ok(a->data)) {
        return SW_WRONG_DATA;
    }
    uint16_t sw = check_reference(p, false, a->data);
    if (sw == SW_OK) {
        p->s.pin_verified = true;
        p->s.pin_fresh = true;
    }
    return sw;
}

uint16_t piv_change_reference(struct piv *p, const struct apdu *a)
{
    if (a->p1 != 0x00 || (a->p2 != REF_PIN && a->p2 != REF_PUK)) {
        return SW_REF_NOT_FOUND;
    }
    if (a->lc != 2 * PIN_MAX_LEN || !pin_format_ok(a->data + PIN_MAX_LEN)) {
        return SW_WRONG_DATA;
    }
    bool puk = a->p2 == REF_PUK;
    uint16_t sw = check_reference(p, puk, a->data);
    if (sw != SW_OK) {
        return sw;
    }
    struct sim_state *s = p->st;
    memcpy(puk ? s->puk : s->pin, a->data + PIN_MAX_LEN, PIN_MAX_LEN);
    *(puk ? &s->puk_len : &s->pin_len) = (uint8_t)pin_field_len(a->data + PIN_MAX_LEN);
    if (!puk) {
        p->s.pin_verified = true;
    }
    return piv_save(p);
}

uint16_t piv_reset_retry(struct piv *p, const struct apdu *a)
{
    if (a->p1 != 0x00 || a->p2 != REF_PIN) {
        return SW_REF_NOT_FOUND;
    }
    if (a->lc != 2 * PIN_MAX_LEN || !pin_format_ok(a->data + PIN_MAX_LEN)) {
        return SW_WRONG_DATA;
    }
    uint16_t sw = check_reference(p, true, a->data);
    if (sw != SW_OK) {
        return sw;
    }
    struct sim_state *s = p->st;
    memcpy(s->pin, a->data + PIN_MAX_LEN, PIN_MAX_LEN);
    s->pin_len = (uint8_t)pin_field_len(a->data + PIN_MAX_LEN);
    s->pin_left = s->pin_tries;
    return piv_save(p);
}

/* YubiKey extension: new retry counts for PIN (P1) and PUK (P2); both codes return to their
 * factory values. Needs the management key and the PIN. */
uint16_t piv_set_pin_retries(struct piv *p, const struct apdu *a)
{
    if (!p->s.mgm_auth || !p->s.pin_verified) {
        return SW_SECURITY_STATUS;
    }
    if (a->p1 == 0 || a->p2 == 0) {
        return SW_INCORRECT_P1P2;
    }
    struct sim_state *s = p->st;
    memset(s->pin, 0xFF, PIN_MAX_LEN);
    memcpy(s->pin, PIN_DEFAULT, strlen(PIN_DEFAULT));
    s->pin_len = (uint8_t)strlen(PIN_DEFAULT);
    memset(s->puk, 0xFF, PIN_MAX_LEN);
    memcpy(s->puk, PUK_DEFAULT, strlen(PUK_DEFAULT));
    s->puk_len = (uint8_t)strlen(PUK_DEFAULT);
    s->pin_tries = s->pin_left = a->p1;
    s->puk_tries = s->puk_left = a->p2;
    return piv_save(p);
}

uint16_t piv_set_mgmkey(struct piv *p, const struct apdu *a)
{
    if (!p->s.mgm_auth) {
        return SW_SECURITY_STATUS;
    }
    if (a->p1 != 0xFF || (a->p2 != 0xFF && a->p2 != 0xFE)) {
        return SW_INCORRECT_P1P2;
    }
    if (a->lc < 3 || a->data[1] != SLOT_CARDMGM) {
        return SW_WRONG_DATA;
    }
    uint8_t algo = a->data[0];
    size_t kl = sym_key_len(algo);
    if (kl == 0 || a->data[2] != kl || a->lc != 3 + kl) {
        return SW_WRONG_DATA;
    }
    struct sim_state *s = p->st;
    s->mgm_algo = algo;
    memset(s->mgm_key, 0, sizeof(s->mgm_key));
    memcpy(s->mgm_key, a->data + 3, kl);
    s->mgm_touch = a->p2 == 0xFE ? TOUCH_ALWAYS : TOUCH_NEVER;
    return piv_save(p);
}

/* Management key authentication inside GENERAL AUTHENTICATE (7C template already unwrapped):
 *   80 00            -> card returns 80 <encrypted witness>           (mutual, step 1)
 *   80 <W> 81 <C>    -> card checks W, returns 82 <encrypted C>       (mutual, step 2)
 *   81 00            -> card returns 81 <challenge>                   (single, step 1)
 *   82 <R>           -> card checks R = encrypted challenge           (single, step 2) */
uint16_t piv_mgm_authenticate(struct piv *p, const struct apdu *a, const uint8_t *tlv, size_t len,
                              struct buf *resp)
{
    struct sim_state *s = p->st;
    struct piv_session *ss = &p->s;
    if (a->p1 != s->mgm_algo) {
        return SW_INCORRECT_P1P2;
    }
    size_t bl = sym_block_len(s->mgm_algo);
    const uint8_t *w = NULL, *c = NULL, *r = NULL;
    size_t wl = 0, cl = 0, rl = 0;
    bool has_w = tlv_find(tlv, len, 0x80, &w, &wl);
    bool has_c = tlv_find(tlv, len, 0x81, &c, &cl);
    bool has_r = tlv_find(tlv, len, 0x82, &r, &rl);
    int step = ss->auth_step;
    ss->auth_step = 0;
    uint8_t block[16], out[16];

    if (has_w && wl == 0 && !has_c && !has_r) {
        ss->mgm_auth = false;
        if (crypto_random(ss->auth_data, bl) != 0 ||
            sym_crypt_block(s->mgm_algo, s->mgm_key, ss->auth_data, out, false) != 0) {
            return SW_UNKNOWN;
        }
        ss->auth_step = AUTH_WITNESS;
        buf_put_u8(resp, 0x7C);
        buf_put_len(resp, 2 + bl);
        buf_put_tlv(resp, 0x80, out, bl);
        return SW_OK;
    }
    if (has_c && cl == 0 && !has_w && !has_r) {
        ss->mgm_auth = false;
        if (crypto_random(ss->auth_data, bl) != 0) {
            return SW_UNKNOWN;
        }
        ss->auth_step = AUTH_CHALLENGE;
        buf_put_u8(resp, 0x7C);
        buf_put_len(resp, 2 + bl);
        buf_put_tlv(resp, 0x81, ss->auth_data, bl);
        return SW_OK;
    }
    if (has_w && has_c && !has_r) {
        if (step != AUTH_WITNESS) {
            return SW_CONDITIONS;
        }
        if (wl != bl || cl != bl || !ct_equal(w, ss->auth_data, bl)) {
            return SW_SECURITY_STATUS;
        }
        if (s->mgm_touch == TOUCH_ALWAYS && !piv_take_touch(p)) {
            ss->auth_step = step; /* still valid when the touch arrives */
            return PIV_TOUCH_PENDING;
        }
        memcpy(block, c, bl);
        if (sym_crypt_block(s->mgm_algo, s->mgm_key, block, out, false) != 0) {
            return SW_UNKNOWN;
        }
        ss->mgm_auth = true;
        buf_put_u8(resp, 0x7C);
        buf_put_len(resp, 2 + bl);
        buf_put_tlv(resp, 0x82, out, bl);
        return SW_OK;
    }
    if (has_r && !has_w && !has_c) {
        if (step != AUTH_CHALLENGE) {
            return SW_CONDITIONS;
        }
        if (rl != bl || sym_crypt_block(s->mgm_algo, s->mgm_key, ss->auth_data, out, false) != 0 ||
            !ct_equal(out, r, bl)) {
            return SW_SECURITY_STATUS;
        }
        if (s->mgm_touch == TOUCH_ALWAYS && !piv_take_touch(p)) {
            ss->auth_step = step;
            return PIV_TOUCH_PENDING;
        }
        ss->mgm_auth = true;
        return SW_OK;
    }
    return SW_WRONG_DATA;
}

/* Factory reset, only once both PIN and PUK are blocked. */
uint16_t piv_reset(struct piv *p, const struct apdu *a)
{
    (void)a;
    if (p->st->pin_left != 0 || p->st->puk_left != 0) {
        return SW_CONDITIONS;
    }
    state_factory_reset(p->st);
    enum piv_app sel = p->s.selected;
    piv_reset_session(p);
    p->s.selected = sel;
    return piv_save(p);
}
