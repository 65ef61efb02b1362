/* ATTEST (YubiKey extension, INS F9, P1 = slot): a certificate for a key generated on the card,
 * signed by the key in slot f9, whose issuer is the subject of the f9 certificate (object
 * 5FFF01), with Yubico's attestation extensions:
 *   1.3.6.1.4.1.41482.3.3  firmware version (3 octets)
 *   1.3.6.1.4.1.41482.3.7  serial number (DER INTEGER)
 *   1.3.6.1.4.1.41482.3.8  PIN policy, touch policy (2 octets)
 *   1.3.6.1.4.1.41482.3.9  form factor (1 octet; 0x01 USB-A keychain) */
#include "attest_ca.h"
#include "crypto.h"
#include "piv_internal.h"

#include "der/der_reader.h"
#include "der/der_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds the subject Name and validity of the f9 certificate stored in 5FFF01 (70 { cert } …).
 * The attestation certificate takes both, as a YubiKey does, so it never outlives its issuer. */
static int f9_subject(const struct sim_state *st, const uint8_t **name, size_t *name_len,
                      int64_t *not_before, int64_t *not_after)
{
    const struct sim_object *o = state_get_object(st, 0x5FFF01);
    const uint8_t *cert;
    size_t cl;
    if (!o || !tlv_find(o->data, o->len, 0x70, &cert, &cl)) {
        return -1;
    }
    pki_der d, c, tbs, val;
    pki_der_item it, t1, t2;
    pki_der_init(&d, cert, cl);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &c, NULL) != 0 ||
        pki_der_enter_expect(&c, PKI_DER_SEQUENCE, &tbs, NULL) != 0) {
        return -1;
    }
    if (pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) < 0 ||
        pki_der_expect(&tbs, PKI_DER_INTEGER, &it) != 0 ||  /* serial */
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0 || /* signature */
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0 || /* issuer */
        pki_der_enter_expect(&tbs, PKI_DER_SEQUENCE, &val, NULL) != 0 ||
        pki_der_next(&val, &t1) != 0 || pki_der_next(&val, &t2) != 0 ||
        pki_der_time(&t1, not_before) != 0 || pki_der_time(&t2, not_after) != 0 ||
        pki_der_expect(&tbs, PKI_DER_SEQUENCE, &it) != 0) { /* subject */
        return -1;
    }
    *name = it.raw;
    *name_len = it.raw_len;
    return 0;
}

uint16_t piv_attest(struct piv *p, const struct apdu *a, struct buf *resp)
{
    const struct sim_state *st = p->st;
    uint8_t slot = a->p1;
    if (a->p2 != 0x00) {
        return SW_INCORRECT_P1P2;
    }
    if (!piv_is_key_slot(slot) || slot == SLOT_ATTESTATION) {
        return SW_REF_NOT_FOUND;
    }
    const struct sim_key *k = &st->keys[slot];
    if (!k->algo) {
        return SW_REF_NOT_FOUND;
    }
    if (k->origin != ORIGIN_GENERATED) {
        return SW_WRONG_DATA;
    }
    const struct sim_key *f9 = &st->keys[SLOT_ATTESTATION];
    const uint8_t *issuer;
    size_t issuer_len;
    int64_t not_before, not_after;
    if (!f9->algo || f9_subject(st, &issuer, &issuer_len, &not_before, &not_after) != 0) {
        return SW_REF_NOT_FOUND;
    }

    uint8_t fw[3] = {FW_MAJOR, FW_MINOR, FW_PATCH};
    uint8_t pol[2] = {k->pin_policy ? k->pin_policy : piv_default_pin_policy(slot),
                      k->touch_policy ? k->touch_policy : TOUCH_NEVER};
    uint8_t form = 0x01;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_int(&w, (int64_t)st->serial);
    size_t serial_der_len;
    uint8_t *serial_der = pki_derw_take(&w, &serial_der_len);
    if (!serial_der) {
        return SW_UNKNOWN;
    }
    struct cert_ext exts[] = {
        {"1.3.6.1.4.1.41482.3.3", 0, fw, sizeof(fw)},
        {"1.3.6.1.4.1.41482.3.7", 0, serial_der, serial_der_len},
        {"1.3.6.1.4.1.41482.3.8", 0, pol, sizeof(pol)},
        {"1.3.6.1.4.1.41482.3.9", 0, &form, 1},
    };
    char cn[64];
    snprintf(cn, sizeof(cn), "YubiKey PIV Attestation %02x", slot);
    uint8_t serial[16];
    if (crypto_random(serial, sizeof(serial)) != 0) {
        free(serial_der);
        return SW_UNKNOWN;
    }
    serial[0] = (uint8_t)((serial[0] & 0x7F) | 0x01);
    struct buf spki, cert;
    buf_init(&spki, 0);
    buf_init(&cert, 0);
    uint16_t sw = SW_UNKNOWN;
    if (key_public_spki(k->algo, k->der, k->der_len, &spki) == 0) {
        struct cert_spec spec = {
            .subject_cn = cn,
            .issuer_der = issuer,
            .issuer_der_len = issuer_len,
            .serial = serial,
            .serial_len = sizeof(serial),
            .not_before = not_before,
            .not_after = not_after,
            .spki = spki.data,
            .spki_len = spki.len,
            .exts = exts,
            .n_exts = sizeof(exts) / sizeof(exts[0]),
        };
        if (cert_build(&spec, f9->algo, f9->der, f9->der_len, &cert) == 0) {
            buf_put(resp, cert.data, cert.len);
            sw = SW_OK;
        }
    }
    free(serial_der);
    buf_free(&spki);
    buf_free(&cert);
    return sw;
}
