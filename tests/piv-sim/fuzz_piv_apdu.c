/* libFuzzer target for the simulator's APDU path: the input is a sequence of command APDUs
 * (each: 2-byte big-endian length, bytes) fed through card_transmit, exactly as vpcd delivers
 * them. The first byte chooses a starting session (PIV selected, PIN verified, management key
 * authenticated, touch given) so the parsers behind the authorisation checks are reached too.
 * Every answer must be a well-formed response APDU: 2..65535 bytes ending in a status word of
 * the 61xx-6Fxx or 9000 families. The card starts from the same keys for every input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_ca.h"
#include "card.h"
#include "crypto.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed_key {
    uint8_t slot, algo, origin;
    struct buf der;
};

static struct seed_key seeds[3] = {
    {0x9A, ALGO_ECCP256, ORIGIN_GENERATED, {0}},
    {0x9C, ALGO_RSA1024, ORIGIN_IMPORTED, {0}},
    {0xF9, ALGO_ECCP256, ORIGIN_GENERATED, {0}},
};
static struct buf f9_object;

/* Keys and the f9 certificate are made once: key generation is slow and not what is fuzzed. */
static void init_once(void)
{
    static int done;
    if (done) {
        return;
    }
    done = 1;
    if (crypto_init() != 0) {
        abort();
    }
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        buf_init(&seeds[i].der, 0);
        if (key_generate(seeds[i].algo, &seeds[i].der) != 0) {
            abort();
        }
    }
    struct buf spki, cert;
    buf_init(&spki, 0);
    buf_init(&cert, 0);
    buf_init(&f9_object, 0);
    static const uint8_t serial[] = {0x01};
    if (key_public_spki(ALGO_ECCP256, seeds[2].der.data, seeds[2].der.len, &spki) != 0) {
        abort();
    }
    struct cert_spec spec = {.subject_cn = ATTEST_F9_CN,
                             .issuer_cn = "fuzz CA",
                             .serial = serial,
                             .serial_len = 1,
                             .not_before = 0,
                             .not_after = 4102444800LL,
                             .spki = spki.data,
                             .spki_len = spki.len,
                             .is_ca = 1};
    if (cert_build(&spec, ALGO_ECCP256, seeds[2].der.data, seeds[2].der.len, &cert) != 0) {
        abort();
    }
    buf_put_tlv(&f9_object, 0x70, cert.data, cert.len);
    buf_free(&spki);
    buf_free(&cert);
}

static void check_response(const struct buf *out)
{
    if (out->len < 2 || out->len > 0xFFFF) {
        abort();
    }
    uint8_t sw1 = out->data[out->len - 2];
    if (!((sw1 >= 0x61 && sw1 <= 0x6F) || sw1 == 0x90)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;

    struct sim_state st;
    char err[128];
    if (state_open(&st, NULL, 12345678, err, sizeof(err)) != 0) {
        abort();
    }
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        uint8_t *copy = malloc(seeds[i].der.len);
        if (!copy) {
            abort();
        }
        memcpy(copy, seeds[i].der.data, seeds[i].der.len);
        state_set_key(&st, seeds[i].slot, seeds[i].algo, (mode & 0x10) ? PIN_ALWAYS : 0,
                      (mode & 0x20) ? TOUCH_ALWAYS : 0, seeds[i].origin, copy, seeds[i].der.len);
    }
    if (state_put_object(&st, 0x5FFF01, f9_object.data, f9_object.len) != 0) {
        abort();
    }
    struct card card;
    card_init(&card, &st);
    card_power_reset(&card);
    if (mode & 0x01) {
        card.piv.s.selected = APP_PIV;
    }
    card.piv.s.pin_verified = (mode & 0x02) != 0;
    card.piv.s.pin_fresh = (mode & 0x02) != 0;
    card.piv.s.mgm_auth = (mode & 0x04) != 0;

    while (size >= 2) {
        size_t len = ((size_t)data[0] << 8) | data[1];
        data += 2;
        size -= 2;
        if (len > size) {
            len = size;
        }
        struct buf out;
        buf_init(&out, 0x10000);
        enum card_result r = card_transmit(&card, data, len, &out);
        if (r == CARD_WAIT_TOUCH) {
            r = card_resume(&card, (mode & 0x08) != 0, &out);
        }
        if (r == CARD_DONE) {
            check_response(&out);
        }
        buf_free(&out);
        data += len;
        size -= len;
    }
    card_free(&card);
    state_free(&st);
    return 0;
}
