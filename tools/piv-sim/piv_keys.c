/* PIV slot keys: GENERATE ASYMMETRIC KEY PAIR, IMPORT KEY, GENERAL AUTHENTICATE (sign, decrypt,
 * ECDH, and the management-key handshake handed to piv_auth.c), GET METADATA. */
#include "piv_internal.h"

#include "crypto.h"

#include <stdlib.h>
#include <string.h>

static bool policy_ok(uint8_t pin, uint8_t touch)
{
    return pin <= PIN_ALWAYS && touch <= TOUCH_CACHED;
}

static bool key_algo_ok(uint8_t algo)
{
    return algo_is_rsa(algo) || algo_is_ec(algo);
}

/* Moves a buf's contents into a plain allocation owned by the state. */
static uint8_t *take(struct buf *b, size_t *len)
{
    uint8_t *d = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

uint16_t piv_generate(struct piv *p, const struct apdu *a, struct buf *resp)
{
    if (!p->s.mgm_auth) {
        return SW_SECURITY_STATUS;
    }
    if (a->p1 != 0x00 || !piv_is_key_slot(a->p2)) {
        return SW_WRONG_P1P2;
    }
    const uint8_t *tmpl, *v;
    size_t tl, vl;
    if (!tlv_find(a->data, a->lc, 0xAC, &tmpl, &tl) || !tlv_find(tmpl, tl, 0x80, &v, &vl) ||
        vl != 1) {
        return SW_WRONG_DATA;
    }
    uint8_t algo = v[0], pin = POLICY_DEFAULT, touch = POLICY_DEFAULT;
    if (tlv_find(tmpl, tl, 0xAA, &v, &vl)) {
        if (vl != 1) {
            return SW_WRONG_DATA;
        }
        pin = v[0];
    }
    if (tlv_find(tmpl, tl, 0xAB, &v, &vl)) {
        if (vl != 1) {
            return SW_WRONG_DATA;
        }
        touch = v[0];
    }
    if (!key_algo_ok(algo) || !policy_ok(pin, touch)) {
        return SW_WRONG_DATA;
    }
    struct buf der, pub;
    buf_init(&der, 0);
    buf_init(&pub, 0);
    uint16_t sw = SW_UNKNOWN;
    if (key_generate(algo, &der) == 0 && key_public_piv(algo, der.data, der.len, &pub) == 0) {
        size_t dl;
        uint8_t *d = take(&der, &dl);
        state_set_key(p->st, a->p2, algo, pin, touch, ORIGIN_GENERATED, d, dl);
        sw = piv_save(p);
        if (sw == SW_OK) {
            buf_put_tlv(resp, 0x7F49, pub.data, pub.len);
        }
    }
    buf_free_secret(&der);
    buf_free(&pub);
    return sw;
}

uint16_t piv_import_key(struct piv *p, const struct apdu *a)
{
    if (!p->s.mgm_auth) {
        return SW_SECURITY_STATUS;
    }
    uint8_t algo = a->p1;
    if (!piv_is_key_slot(a->p2)) {
        return SW_WRONG_P1P2;
    }
    if (!key_algo_ok(algo)) {
        return SW_INCORRECT_P1P2;
    }
    const uint8_t *v;
    size_t vl;
    uint8_t pin = POLICY_DEFAULT, touch = POLICY_DEFAULT;
    if (tlv_find(a->data, a->lc, 0xAA, &v, &vl)) {
        if (vl != 1) {
            return SW_WRONG_DATA;
        }
        pin = v[0];
    }
    if (tlv_find(a->data, a->lc, 0xAB, &v, &vl)) {
        if (vl != 1) {
            return SW_WRONG_DATA;
        }
        touch = v[0];
    }
    if (!policy_ok(pin, touch)) {
        return SW_WRONG_DATA;
    }
    struct buf der;
    buf_init(&der, 0);
    int rc = -1;
    if (algo_is_rsa(algo)) {
        const uint8_t *parts[5];
        size_t lens[5];
        size_t half = algo_size(algo) / 2;
        for (unsigned i = 0; i < 5; i++) {
            if (!tlv_find(a->data, a->lc, 0x01 + i, &parts[i], &lens[i]) || lens[i] == 0 ||
                lens[i] > half) {
                return SW_WRONG_DATA;
            }
        }
        rc = key_import_rsa(algo, parts, lens, &der);
    } else {
        if (!tlv_find(a->data, a->lc, 0x06, &v, &vl)) {
            return SW_WRONG_DATA;
        }
        rc = key_import_ec(algo, v, vl, &der);
    }
    if (rc != 0) {
        buf_free_secret(&der);
        return SW_WRONG_DATA;
    }
    size_t dl;
    uint8_t *d = take(&der, &dl);
    state_set_key(p->st, a->p2, algo, pin, touch, ORIGIN_IMPORTED, d, dl);
    return piv_save(p);
}

/* Wraps a result as 7C { 82 result }. */
static void put_dynamic_auth(struct buf *resp, const struct buf *result)
{
    size_t inner = 1 + (result->len < 0x80 ? 1 : result->len < 0x100 ? 2 : 3) + result->len;
    buf_put_u8(resp, 0x7C);
    buf_put_len(resp, inner);
    buf_put_tlv(resp, 0x82, result->data, result->len);
}

uint16_t piv_general_authenticate(struct piv *p, const struct apdu *a, struct buf *resp)
{
    const uint8_t *tmpl;
    size_t tl;
    const uint8_t *end_check = a->data;
    unsigned tag;
    if (a->lc == 0 || !tlv_next(&end_check, a->data + a->lc, &tag, &tmpl, &tl) || tag != 0x7C) {
        return SW_WRONG_DATA;
    }
    if (a->p2 == SLOT_CARDMGM) {
        return piv_mgm_authenticate(p, a, tmpl, tl, resp);
    }
    if (!piv_is_key_slot(a->p2)) {
        return SW_WRONG_P1P2;
    }
    const struct sim_key *k = &p->st->keys[a->p2];
    if (!k->algo || k->algo != a->p1) {
        return SW_INCORRECT_P1P2;
    }
    const uint8_t *in, *resp_tag;
    size_t il, rl;
    bool sign = tlv_find(tmpl, tl, 0x81, &in, &il);
    bool ecdh = !sign && tlv_find(tmpl, tl, 0x85, &in, &il);
    if ((!sign && !ecdh) || !tlv_find(tmpl, tl, 0x82, &resp_tag, &rl) || rl != 0) {
        return SW_WRONG_DATA;
    }
    if (ecdh && !algo_is_ec(k->algo)) {
        return SW_WRONG_DATA;
    }
    /* Input is checked before the PIN/touch so a malformed request costs nothing. */
    if (algo_is_rsa(k->algo)
            ? il != algo_size(k->algo)
            : (sign ? il == 0 || il > algo_size(k->algo) : il != 2 * algo_size(k->algo) + 1)) {
        return SW_WRONG_DATA;
    }
    uint16_t sw = piv_check_key_policy(p, a->p2);
    if (sw != SW_OK) {
        return sw;
    }
    struct buf out;
    buf_init(&out, 0);
    int rc;
    if (algo_is_rsa(k->algo)) {
        rc = key_rsa_private(k->algo, k->der, k->der_len, in, il, &out);
    } else if (sign) {
        rc = key_ec_sign(k->algo, k->der, k->der_len, in, il, &out);
    } else {
        rc = key_ecdh(k->algo, k->der, k->der_len, in, il, &out);
    }
    if (rc == 0) {
        put_dynamic_auth(resp, &out);
    }
    buf_free_secret(&out);
    return rc == 0 ? SW_OK : SW_WRONG_DATA;
}

static bool is_default_pin(const struct sim_state *s, bool puk)
{
    const char *d = puk ? PUK_DEFAULT : PIN_DEFAULT;
    const uint8_t *v = puk ? s->puk : s->pin;
    size_t n = strlen(d);
    return (puk ? s->puk_len : s->pin_len) == n && memcmp(v, d, n) == 0;
}

uint16_t piv_get_metadata(struct piv *p, const struct apdu *a, struct buf *resp)
{
    const struct sim_state *s = p->st;
    if (a->p1 != 0x00) {
        return SW_INCORRECT_P1P2;
    }
    uint8_t slot = a->p2;
    if (slot == REF_PIN || slot == REF_PUK) {
        bool puk = slot == REF_PUK;
        uint8_t algo = 0xFF, def = is_default_pin(s, puk) ? 1 : 0;
        uint8_t tries[2] = {puk ? s->puk_tries : s->pin_tries, puk ? s->puk_left : s->pin_left};
        buf_put_tlv(resp, 0x01, &algo, 1);
        buf_put_tlv(resp, 0x05, &def, 1);
        buf_put_tlv(resp, 0x06, tries, 2);
        return SW_OK;
    }
    if (slot == SLOT_CARDMGM) {
        uint8_t def = (s->mgm_algo == ALGO_3DES &&
                       memcmp(s->mgm_key, MGM_KEY_DEFAULT, sizeof(MGM_KEY_DEFAULT)) == 0)
                          ? 1
                          : 0;
        uint8_t pol[2] = {PIN_NEVER, s->mgm_touch};
        buf_put_tlv(resp, 0x01, &s->mgm_algo, 1);
        buf_put_tlv(resp, 0x02, pol, 2);
        buf_put_tlv(resp, 0x05, &def, 1);
        return SW_OK;
    }
    if (!piv_is_key_slot(slot)) {
        return SW_REF_NOT_FOUND;
    }
    const struct sim_key *k = &s->keys[slot];
    if (!k->algo) {
        return SW_REF_NOT_FOUND;
    }
    struct buf pub;
    buf_init(&pub, 0);
    if (key_public_piv(k->algo, k->der, k->der_len, &pub) != 0) {
        buf_free(&pub);
        return SW_UNKNOWN;
    }
    uint8_t pol[2] = {k->pin_policy ? k->pin_policy : piv_default_pin_policy(slot),
                      k->touch_policy ? k->touch_policy : TOUCH_NEVER};
    buf_put_tlv(resp, 0x01, &k->algo, 1);
    buf_put_tlv(resp, 0x02, pol, 2);
    buf_put_tlv(resp, 0x03, &k->origin, 1);
    buf_put_tlv(resp, 0x04, pub.data, pub.len);
    buf_free(&pub);
    return SW_OK;
}
