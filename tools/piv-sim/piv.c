/* PIV applet: selection, dispatch, version/serial, and the PIN/touch policy checks shared by the
 * command files. */
#include "piv_internal.h"

#include "crypto.h"

#include <string.h>
#include <time.h>

static const uint8_t PIV_AID[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00};
static const uint8_t MGMT_AID[] = {0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17};
static const uint8_t OTP_AID[] = {0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01};

double piv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void piv_init(struct piv *p, struct sim_state *st)
{
    memset(p, 0, sizeof(*p));
    p->st = st;
    p->last_touch = -1e9;
    piv_reset_session(p);
}

void piv_reset_session(struct piv *p)
{
    crypto_wipe(&p->s, sizeof(p->s));
    p->s.selected = APP_NONE;
}

void piv_touch(struct piv *p)
{
    p->touch_armed = true;
    p->touch_armed_at = piv_now();
}

bool piv_take_touch(struct piv *p)
{
    double now = piv_now();
    if (p->touch_armed && now - p->touch_armed_at <= TOUCH_CACHE_SECONDS) {
        p->touch_armed = false;
        p->last_touch = now;
        return true;
    }
    p->touch_armed = false;
    return false;
}

bool piv_is_key_slot(uint8_t slot)
{
    return slot == 0x9A || slot == 0x9C || slot == 0x9D || slot == 0x9E ||
           (slot >= 0x82 && slot <= 0x95) || slot == SLOT_ATTESTATION;
}

uint8_t piv_default_pin_policy(uint8_t slot)
{
    switch (slot) {
    case 0x9C:
        return PIN_ALWAYS;
    case 0x9E:
    case SLOT_ATTESTATION:
        return PIN_NEVER;
    default:
        return PIN_ONCE;
    }
}

uint16_t piv_check_key_policy(struct piv *p, uint8_t slot)
{
    const struct sim_key *k = &p->st->keys[slot];
    uint8_t pin = k->pin_policy ? k->pin_policy : piv_default_pin_policy(slot);
    if ((pin == PIN_ONCE && !p->s.pin_verified) || (pin == PIN_ALWAYS && !p->s.pin_fresh)) {
        return SW_SECURITY_STATUS;
    }
    uint8_t touch = k->touch_policy ? k->touch_policy : TOUCH_NEVER;
    if (touch == TOUCH_ALWAYS || touch == TOUCH_CACHED) {
        bool cached = touch == TOUCH_CACHED && piv_now() - p->last_touch <= TOUCH_CACHE_SECONDS;
        /* An armed touch is used up by the first operation that could use it, even one the cache
         * would have let through, so it never lingers to satisfy a later "always" key. */
        if (!piv_take_touch(p) && !cached) {
            return PIV_TOUCH_PENDING;
        }
    }
    return SW_OK;
}

uint16_t piv_save(struct piv *p)
{
    return state_save(p->st) == 0 ? SW_OK : SW_MEMORY_FAILURE;
}

/* SELECT by DF name. A prefix of at least the RID+PIX start (5 bytes) selects PIV, as partial
 * selection allows and libykpiv uses. Unknown applets: file not found, current one kept. */
static uint16_t cmd_select(struct piv *p, const struct apdu *a, struct buf *resp)
{
    if (a->p1 != 0x04) {
        return SW_INCORRECT_P1P2;
    }
    if (a->lc >= 5 && a->lc <= sizeof(PIV_AID) && memcmp(a->data, PIV_AID, a->lc) == 0) {
        piv_reset_session(p);
        p->s.selected = APP_PIV;
        /* Application property template: AID (PIX) and the coexistent tag allocation authority */
        static const uint8_t apt[] = {0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
                                      0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08};
        buf_put(resp, apt, sizeof(apt));
        return SW_OK;
    }
    if (a->lc == sizeof(MGMT_AID) && memcmp(a->data, MGMT_AID, a->lc) == 0) {
        piv_reset_session(p);
        p->s.selected = APP_MGMT;
        static const char v[] = "Virtual mgr - FW version 5.4.3";
        buf_put(resp, v, sizeof(v) - 1);
        return SW_OK;
    }
    if (a->lc == sizeof(OTP_AID) && memcmp(a->data, OTP_AID, a->lc) == 0) {
        piv_reset_session(p);
        p->s.selected = APP_OTP;
        /* OTP status: firmware version, programming sequence, touch level */
        static const uint8_t st[] = {FW_MAJOR, FW_MINOR, FW_PATCH, 0, 0, 0};
        buf_put(resp, st, sizeof(st));
        return SW_OK;
    }
    return SW_FILE_NOT_FOUND;
}

static uint16_t cmd_version(const struct apdu *a, struct buf *resp)
{
    (void)a;
    static const uint8_t v[] = {FW_MAJOR, FW_MINOR, FW_PATCH};
    buf_put(resp, v, sizeof(v));
    return SW_OK;
}

static uint16_t cmd_serial(struct piv *p, struct buf *resp)
{
    uint32_t s = p->st->serial;
    uint8_t v[4] = {(uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};
    buf_put(resp, v, 4);
    return SW_OK;
}

static uint16_t dispatch_piv(struct piv *p, const struct apdu *a, struct buf *resp)
{
    switch (a->ins) {
    case 0x20:
        return piv_verify(p, a);
    case 0x24:
        return piv_change_reference(p, a);
    case 0x2C:
        return piv_reset_retry(p, a);
    case 0x47:
        return piv_generate(p, a, resp);
    case 0x87:
        return piv_general_authenticate(p, a, resp);
    case 0xCB:
        return piv_get_data(p, a, resp);
    case 0xDB:
        return piv_put_data(p, a);
    case 0xF7:
        return piv_get_metadata(p, a, resp);
    case 0xF8:
        return cmd_serial(p, resp);
    case 0xF9:
        return piv_attest(p, a, resp);
    case 0xFA:
        return piv_set_pin_retries(p, a);
    case 0xFB:
        return piv_reset(p, a);
    case 0xFD:
        return cmd_version(a, resp);
    case 0xFE:
        return piv_import_key(p, a);
    case 0xFF:
        return piv_set_mgmkey(p, a);
    default:
        return SW_INS_NOT_SUPPORTED;
    }
}

uint16_t piv_command(struct piv *p, const struct apdu *a, struct buf *resp)
{
    uint16_t sw;
    if (a->ins == 0xA4) {
        sw = cmd_select(p, a, resp);
    } else if (p->s.selected == APP_PIV) {
        sw = dispatch_piv(p, a, resp);
    } else {
        sw = SW_INS_NOT_SUPPORTED;
    }
    if (sw == PIV_TOUCH_PENDING) {
        return sw;
    }
    /* "PIN always": a verification is good for the one command that follows it. */
    if (a->ins != 0x20 || sw != SW_OK || a->lc == 0) {
        p->s.pin_fresh = false;
    }
    if (resp->failed) {
        buf_reset(resp);
        return SW_UNKNOWN;
    }
    return sw;
}
