/* PIV data objects: GET DATA and PUT DATA. Objects are stored as their content (the value of the
 * 53 template) and answered as 53 { content }; the discovery object is fixed and answered as
 * 7E { … } as the card does. */
#include "piv_internal.h"

#include <string.h>

#define OBJ_DISCOVERY 0x7E
#define OBJ_BIOMETRIC_GROUP 0x7F61

/* Discovery object: PIV AID, PIN usage policy "PIV PIN only". */
static const uint8_t DISCOVERY[] = {0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
                                    0x00, 0x10, 0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02, 0x40, 0x00};

/* Parses the 5C tag list (one object id of 1 to 3 bytes). */
static bool object_id(const uint8_t *data, size_t len, uint32_t *id, const uint8_t **rest,
                      size_t *rest_len)
{
    const uint8_t *p = data, *v;
    unsigned tag;
    size_t l;
    if (!tlv_next(&p, data + len, &tag, &v, &l) || tag != 0x5C || l < 1 || l > 3) {
        return false;
    }
    uint32_t x = 0;
    for (size_t i = 0; i < l; i++) {
        x = (x << 8) | v[i];
    }
    *id = x;
    *rest = p;
    *rest_len = (size_t)(data + len - p);
    return true;
}

/* The ids a YubiKey 5 stores: the PIV objects 5FC101..5FC123, YubiKey's 5FFF00..5FFF15, and the
 * biometric group template. */
static bool object_known(uint32_t id)
{
    return (id >= 0x5FC101 && id <= 0x5FC123) || (id >= 0x5FFF00 && id <= 0x5FFF15) ||
           id == OBJ_BIOMETRIC_GROUP;
}

/* Objects readable only after the PIN: printed information and the biometrics (SP 800-73-4). */
static bool object_needs_pin(uint32_t id)
{
    return id == 0x5FC109 || id == 0x5FC103 || id == 0x5FC108 || id == 0x5FC121;
}

uint16_t piv_get_data(struct piv *p, const struct apdu *a, struct buf *resp)
{
    if (a->p1 != 0x3F || a->p2 != 0xFF) {
        return SW_INCORRECT_P1P2;
    }
    uint32_t id;
    const uint8_t *rest;
    size_t rl;
    if (!object_id(a->data, a->lc, &id, &rest, &rl) || rl != 0) {
        return SW_WRONG_DATA;
    }
    if (id == OBJ_DISCOVERY) {
        buf_put(resp, DISCOVERY, sizeof(DISCOVERY));
        return SW_OK;
    }
    if (!object_known(id)) {
        return SW_FILE_NOT_FOUND;
    }
    if (object_needs_pin(id) && !p->s.pin_verified) {
        return SW_SECURITY_STATUS;
    }
    const struct sim_object *o = state_get_object(p->st, id);
    if (!o) {
        return SW_FILE_NOT_FOUND;
    }
    buf_put_tlv(resp, 0x53, o->data, o->len);
    return SW_OK;
}

uint16_t piv_put_data(struct piv *p, const struct apdu *a)
{
    if (!p->s.mgm_auth) {
        return SW_SECURITY_STATUS;
    }
    if (a->p1 != 0x3F || a->p2 != 0xFF) {
        return SW_INCORRECT_P1P2;
    }
    uint32_t id;
    const uint8_t *rest, *v, *q;
    size_t rl, vl;
    unsigned tag;
    if (!object_id(a->data, a->lc, &id, &rest, &rl)) {
        return SW_WRONG_DATA;
    }
    q = rest;
    if (!tlv_next(&q, rest + rl, &tag, &v, &vl) || tag != 0x53 || q != rest + rl) {
        return SW_WRONG_DATA;
    }
    if (id == OBJ_DISCOVERY || !object_known(id)) {
        return SW_WRONG_DATA;
    }
    if (vl > OBJ_MAX) {
        return SW_NOT_ENOUGH_MEMORY;
    }
    if (state_put_object(p->st, id, v, vl) != 0) {
        return SW_NOT_ENOUGH_MEMORY;
    }
    return piv_save(p);
}
