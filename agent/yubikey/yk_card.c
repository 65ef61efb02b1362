#include "yubikey/yk_card.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/wolfmath.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIN_SLOT 0x80
#define PUK_SLOT 0x81
#define MGM_SLOT 0x9b
#define META_DEFAULT_TAG 0x05
#define META_RETRIES_TAG 0x06
#define ADMIN_DATA_OBJECT 0x5fff00
#define ADMIN_FLAG_PROTECTED_MGM 0x02

static const uint8_t SLOTS[] = {0x9a, 0x9c, 0x9d, 0x9e, 0x82, 0x83, 0x84, 0x85,
                                0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d,
                                0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95};

int ykc_fail(yk_result *r, int status, int http, const char *code, const char *fmt, ...)
{
    r->status = status;
    r->http = http;
    snprintf(r->code, sizeof r->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return status;
}

/* Whether the card still answers; a generic failure may be a card pulled out mid-command. */
static bool card_answers(ykpiv_state *yk)
{
    int tries = 0;
    return ykpiv_get_pin_retries(yk, &tries) != YKPIV_PCSC_ERROR;
}

/* Maps a libykpiv failure of step to r. */
static int fail_rc_yk(ykpiv_state *yk, yk_result *r, ykpiv_rc rc, const char *step)
{
    if (rc != YKPIV_PCSC_ERROR && rc != YKPIV_AUTHENTICATION_ERROR && yk && !card_answers(yk))
        rc = YKPIV_PCSC_ERROR;
    if (rc == YKPIV_PCSC_ERROR)
        return ykc_fail(r, PKI_SIGN_ERR_CARD_ABSENT, 503, "card_absent",
                        "%s: the YubiKey was removed or does not answer", step);
    int tries = -1;
    if (rc == YKPIV_AUTHENTICATION_ERROR && yk && ykpiv_get_pin_retries(yk, &tries) == YKPIV_OK &&
        tries == 0) {
        r->retries = 0;
        return ykc_fail(r, PKI_SIGN_ERR_PIN_BLOCKED, 423, "pin_blocked",
                        "%s: the PIN is blocked; unblock it with the PUK (or reset the key)", step);
    }
    if (rc == YKPIV_AUTHENTICATION_ERROR)
        return ykc_fail(r, PKI_SIGN_ERR_PIN_REQUIRED, 403, "not_authorised",
                        "%s: the card refused: PIN or management key not verified", step);
    return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 502, "card_error", "%s: %s", step,
                    ykpiv_strerror(rc));
}

int ykc_slot_from_name(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof SLOTS; i++) {
        char n[4];
        snprintf(n, sizeof n, "%02x", SLOTS[i]);
        if (strcasecmp(n, name) == 0)
            return SLOTS[i];
    }
    return -1;
}

const char *ykc_slot_name(int slot)
{
    static const char *const NAMES[] = {"9a", "9c", "9d", "9e", "82", "83", "84", "85",
                                        "86", "87", "88", "89", "8a", "8b", "8c", "8d",
                                        "8e", "8f", "90", "91", "92", "93", "94", "95"};
    for (size_t i = 0; i < sizeof SLOTS; i++)
        if (SLOTS[i] == slot)
            return NAMES[i];
    return NULL;
}

size_t ykc_slots(const uint8_t **out)
{
    *out = SLOTS;
    return sizeof SLOTS;
}

/* Finds tag in a flat TLV list (short and 0x81/0x82 long lengths). */
static const uint8_t *tlv_find(const uint8_t *p, size_t len, uint8_t tag, size_t *vlen)
{
    size_t i = 0;
    while (i + 2 <= len) {
        uint8_t t = p[i++];
        size_t l = p[i++];
        if (l == 0x81 && i < len) {
            l = p[i++];
        } else if (l == 0x82 && i + 1 < len) {
            l = ((size_t)p[i] << 8) | p[i + 1];
            i += 2;
        } else if (l > 0x80) {
            return NULL;
        }
        if (l > len - i)
            return NULL;
        if (t == tag) {
            *vlen = l;
            return p + i;
        }
        i += l;
    }
    return NULL;
}

/* 1 default, 0 changed, -1 unknown (firmware without GET METADATA). */
static int credential_is_default(ykpiv_state *yk, uint8_t which, int *retries)
{
    uint8_t buf[256];
    size_t len = sizeof buf, vl = 0;
    if (ykpiv_get_metadata(yk, which, buf, &len) != YKPIV_OK)
        return -1;
    const uint8_t *r = tlv_find(buf, len, META_RETRIES_TAG, &vl);
    if (r && vl == 2 && retries)
        *retries = r[1];
    const uint8_t *v = tlv_find(buf, len, META_DEFAULT_TAG, &vl);
    if (!v || vl != 1)
        return -1;
    return v[0] ? 1 : 0;
}

static const char *algo_name(uint8_t a)
{
    switch (a) {
    case YKPIV_ALGO_RSA1024:
        return "rsa1024";
    case YKPIV_ALGO_RSA2048:
        return "rsa2048";
    case YKPIV_ALGO_ECCP256:
        return "ec-p256";
    case YKPIV_ALGO_ECCP384:
        return "ec-p384";
    default:
        return "unknown";
    }
}

static const char *pin_policy_name(uint8_t p)
{
    static const char *const N[] = {"default", "never", "once", "always"};
    return p < 4 ? N[p] : "unknown";
}

static const char *touch_policy_name(uint8_t p)
{
    static const char *const N[] = {"default", "never", "always", "cached"};
    return p < 4 ? N[p] : "unknown";
}

int ykc_pin_policy(const char *name)
{
    if (!name || strcmp(name, "once") == 0)
        return YKPIV_PINPOLICY_ONCE;
    if (strcmp(name, "never") == 0)
        return YKPIV_PINPOLICY_NEVER;
    if (strcmp(name, "always") == 0)
        return YKPIV_PINPOLICY_ALWAYS;
    return -1;
}

int ykc_touch_policy(const char *name)
{
    if (!name || strcmp(name, "never") == 0)
        return YKPIV_TOUCHPOLICY_NEVER;
    if (strcmp(name, "always") == 0)
        return YKPIV_TOUCHPOLICY_ALWAYS;
    if (strcmp(name, "cached") == 0)
        return YKPIV_TOUCHPOLICY_CACHED;
    return -1;
}

/* Whether the admin data object (as ykman and yubico-piv-tool write it) says the management key
 * is stored PIN-protected. Readable without the PIN, unlike the protected object itself. */
static bool mgm_is_protected(ykpiv_state *yk)
{
    uint8_t buf[256];
    unsigned long len = sizeof buf;
    size_t cl = 0, fl = 0;
    if (ykpiv_fetch_object(yk, ADMIN_DATA_OBJECT, buf, &len) != YKPIV_OK)
        return false;
    const uint8_t *obj = buf;
    size_t ol = len;
    if (len > 2 && buf[0] == 0x53 && !(obj = tlv_find(buf, len, 0x53, &ol)))
        return false; /* some libykpiv versions hand back the 53 wrapper */
    const uint8_t *c = tlv_find(obj, ol, 0x80, &cl);
    const uint8_t *f = c ? tlv_find(c, cl, 0x81, &fl) : NULL;
    return f && fl == 1 && (f[0] & ADMIN_FLAG_PROTECTED_MGM);
}

bool ykc_is_set_up(ykpiv_state *yk)
{
    bool protected_mgm = mgm_is_protected(yk);
    int pin_default = credential_is_default(yk, PIN_SLOT, NULL);
    int puk_default = credential_is_default(yk, PUK_SLOT, NULL);
    /* Without metadata the PIN-protected management key (set only by our set-up, after the
     * PIN and PUK were changed) is the evidence. */
    return protected_mgm && pin_default != 1 && puk_default != 1;
}

static json_t *describe_slot(ykpiv_state *yk, uint8_t slot)
{
    json_t *s = json_object();
    json_object_set_new(s, "slot", json_string(ykc_slot_name(slot)));
    uint8_t buf[1024];
    size_t len = sizeof buf;
    ykpiv_metadata md;
    if (ykpiv_get_metadata(yk, slot, buf, &len) == YKPIV_OK &&
        ykpiv_util_parse_metadata(buf, len, &md) == YKPIV_OK) {
        json_object_set_new(s, "key",
                            json_pack("{s:s,s:s,s:s,s:s}", "algorithm", algo_name(md.algorithm),
                                      "pin_policy", pin_policy_name(md.pin_policy), "touch_policy",
                                      touch_policy_name(md.touch_policy), "origin",
                                      md.origin == YKPIV_METADATA_ORIGIN_GENERATED  ? "generated"
                                      : md.origin == YKPIV_METADATA_ORIGIN_IMPORTED ? "imported"
                                                                                    : "unknown"));
    } else {
        json_object_set_new(s, "key", json_null());
    }
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    bool has_cert = ykpiv_util_read_cert(yk, slot, &cert, &cert_len) == YKPIV_OK && cert_len;
    if (cert)
        ykpiv_util_free(yk, cert);
    json_object_set_new(s, "certificate", json_boolean(has_cert));
    return s;
}

/* Counters and credential state: retries, factory flags, management key, set-up. */
static void describe_counters(ykpiv_state *yk, json_t *d)
{
    int tries = -1, puk_tries = -1;
    if (ykpiv_get_pin_retries(yk, &tries) == YKPIV_OK)
        json_object_set_new(d, "pin_retries", json_integer(tries));
    int pin_default = credential_is_default(yk, PIN_SLOT, NULL);
    int puk_default = credential_is_default(yk, PUK_SLOT, &puk_tries);
    json_object_set_new(d, "pin_default",
                        pin_default < 0 ? json_null() : json_boolean(pin_default));
    json_object_set_new(d, "puk_default",
                        puk_default < 0 ? json_null() : json_boolean(puk_default));
    if (puk_tries >= 0)
        json_object_set_new(d, "puk_retries", json_integer(puk_tries));
    bool protected_mgm = mgm_is_protected(yk);
    json_object_set_new(d, "management_key_protected", json_boolean(protected_mgm));
    json_object_set_new(d, "set_up",
                        json_boolean(protected_mgm && pin_default != 1 && puk_default != 1));
}

json_t *ykc_describe(ykpiv_state *yk, uint32_t serial)
{
    json_t *d = json_object();
    char version[32] = "";
    json_object_set_new(d, "serial", json_integer(serial));
    if (ykpiv_get_version(yk, version, sizeof version) == YKPIV_OK)
        json_object_set_new(d, "version", json_string(version));
    describe_counters(yk, d);
    json_t *slots = json_array();
    for (size_t i = 0; i < sizeof SLOTS; i++)
        json_array_append_new(slots, describe_slot(yk, SLOTS[i]));
    json_object_set_new(d, "slots", slots);
    return d;
}

void ykc_redescribe(ykpiv_state *yk, json_t *desc, int slot)
{
    describe_counters(yk, desc);
    json_t *slots = json_object_get(desc, "slots");
    for (size_t i = 0; slot >= 0 && i < sizeof SLOTS; i++)
        if (i < json_array_size(slots) && SLOTS[i] == slot)
            json_array_set_new(slots, i, describe_slot(yk, SLOTS[i]));
}

static int pin_failure(yk_result *r, ykpiv_rc rc, int tries, const char *what)
{
    if (rc == YKPIV_PIN_LOCKED || (rc == YKPIV_WRONG_PIN && tries == 0)) {
        r->retries = 0;
        return ykc_fail(r, PKI_SIGN_ERR_PIN_BLOCKED, 423, "pin_blocked",
                        "the %s is blocked; unblock it with the PUK (or reset the key)", what);
    }
    if (rc == YKPIV_WRONG_PIN) {
        r->retries = tries;
        return ykc_fail(r, PKI_SIGN_ERR_PIN_REQUIRED, 403, "wrong_pin", "wrong %s: %d retries left",
                        what, tries);
    }
    return fail_rc_yk(NULL, r, rc, what);
}

int ykc_verify_pin(ykpiv_state *yk, const secret *pin, yk_result *r)
{
    r->retries = -1;
    if (!pin->buf || pin->len < YKPIV_MIN_PIN_LEN || pin->len > YKPIV_MAX_PIN_LEN)
        return ykc_fail(r, PKI_SIGN_ERR_PIN_REQUIRED, 400, "bad_pin",
                        "the PIN must have %d to %d characters", YKPIV_MIN_PIN_LEN,
                        YKPIV_MAX_PIN_LEN);
    int tries = -1;
    ykpiv_rc rc = ykpiv_verify_select(yk, pin->buf, pin->len, &tries, false);
    if (rc != YKPIV_OK)
        return pin_failure(r, rc, tries, "PIN");
    return 0;
}

int ykc_admin_login(ykpiv_state *yk, const secret *pin, yk_result *r)
{
    if (ykc_verify_pin(yk, pin, r) != 0)
        return r->status;
    ykpiv_mgm mgm;
    ykpiv_rc rc = ykpiv_util_get_protected_mgm(yk, &mgm);
    if (rc == YKPIV_OK)
        rc = ykpiv_authenticate(yk, mgm.data);
    explicit_bzero(&mgm, sizeof mgm);
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc, "management key");
    return 0;
}

int ykc_setup(ykpiv_state *yk, const secret *pin, const secret *new_pin, const secret *puk,
              const secret *new_puk, const char *mgm_hex, yk_result *r)
{
    r->retries = -1;
    if (!new_pin->buf || new_pin->len < YKPIV_MIN_PIN_LEN || new_pin->len > YKPIV_MAX_PIN_LEN ||
        !new_puk->buf || new_puk->len < YKPIV_MIN_PIN_LEN || new_puk->len > YKPIV_MAX_PIN_LEN)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_pin",
                        "the new PIN and PUK must have %d to %d characters", YKPIV_MIN_PIN_LEN,
                        YKPIV_MAX_PIN_LEN);
    if (strcmp(new_pin->buf, "123456") == 0 || strcmp(new_puk->buf, "12345678") == 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_pin",
                        "the new PIN and PUK must differ from the factory values");
    if (!pin->buf || !puk->buf)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_pin",
                        "the current PIN and PUK are required");
    int tries = -1;
    ykpiv_rc rc = ykpiv_change_pin(yk, pin->buf, pin->len, new_pin->buf, new_pin->len, &tries);
    if (rc != YKPIV_OK)
        return pin_failure(r, rc, tries, "PIN");
    rc = ykpiv_change_puk(yk, puk->buf, puk->len, new_puk->buf, new_puk->len, &tries);
    if (rc != YKPIV_OK)
        return pin_failure(r, rc, tries, "PUK");
    unsigned char key[24];
    size_t key_len = sizeof key;
    const char *hex =
        mgm_hex && *mgm_hex ? mgm_hex : "010203040506070801020304050607080102030405060708";
    if (strlen(hex) != 48 || ykpiv_hex_decode(hex, 48, key, &key_len) != YKPIV_OK || key_len != 24)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_management_key",
                        "the management key must be 48 hexadecimal digits");
    rc = ykpiv_authenticate(yk, key);
    explicit_bzero(key, sizeof key);
    if (rc != YKPIV_OK)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 403, "bad_management_key",
                        "PIN and PUK changed, but the management key was refused");
    if (ykc_verify_pin(yk, new_pin, r) != 0)
        return r->status;
    /* A random key of our own making, stored PIN-protected on the card (ykman's scheme). */
    ykpiv_mgm mgm;
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "no random generator");
    int grc = wc_RNG_GenerateBlock(&rng, mgm.data, sizeof mgm.data);
    wc_FreeRng(&rng);
    if (grc != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "no random generator");
    rc = ykpiv_util_set_protected_mgm(yk, &mgm);
    explicit_bzero(&mgm, sizeof mgm);
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc, "storing the PIN-protected management key");
    (void)ykpiv_util_set_pin_last_changed(yk);
    return 0;
}

static int algo_for(pki_key_type type, uint8_t *algo, yk_result *r)
{
    switch (type) {
    case PKI_KEY_RSA:
        *algo = YKPIV_ALGO_RSA2048;
        return 0;
    case PKI_KEY_EC_P256:
        *algo = YKPIV_ALGO_ECCP256;
        return 0;
    case PKI_KEY_EC_P384:
        *algo = YKPIV_ALGO_ECCP384;
        return 0;
    default:
        return ykc_fail(r, PKI_SIGN_ERR_BAD_ALG, 400, "unsupported_key",
                        "a YubiKey holds RSA 2048, P-256 or P-384 keys");
    }
}

/* SubjectPublicKeyInfo from the card's raw public key parts, through wolfCrypt. */
static int spki_from_parts(uint8_t algo, const uint8_t *n, size_t n_len, const uint8_t *e,
                           size_t e_len, const uint8_t *point, size_t point_len, uint8_t **spki,
                           size_t *spki_len)
{
    uint8_t buf[1024];
    int len = -1;
    if (YKPIV_IS_RSA(algo)) {
        RsaKey rsa;
        if (wc_InitRsaKey(&rsa, NULL) != 0)
            return -1;
        if (wc_RsaPublicKeyDecodeRaw(n, (word32)n_len, e, (word32)e_len, &rsa) == 0)
            len = wc_RsaKeyToPublicDer(&rsa, buf, sizeof buf);
        wc_FreeRsaKey(&rsa);
    } else {
        ecc_key ecc;
        if (wc_ecc_init(&ecc) != 0)
            return -1;
        int curve = algo == YKPIV_ALGO_ECCP256 ? ECC_SECP256R1 : ECC_SECP384R1;
        if (wc_ecc_import_x963_ex(point, (word32)point_len, &ecc, curve) == 0)
            len = wc_EccPublicKeyToDer(&ecc, buf, sizeof buf, 1);
        wc_ecc_free(&ecc);
    }
    if (len <= 0 || !(*spki = malloc((size_t)len)))
        return -1;
    memcpy(*spki, buf, (size_t)len);
    *spki_len = (size_t)len;
    return 0;
}

int ykc_generate(ykpiv_state *yk, int slot, pki_key_type type, int pin_policy, int touch_policy,
                 uint8_t **spki, size_t *spki_len, yk_result *r)
{
    uint8_t algo = 0;
    if (algo_for(type, &algo, r) != 0)
        return r->status;
    uint8_t *n = NULL, *e = NULL, *point = NULL;
    size_t n_len = 0, e_len = 0, point_len = 0;
    ykpiv_rc rc =
        ykpiv_util_generate_key(yk, (uint8_t)slot, algo, (uint8_t)pin_policy, (uint8_t)touch_policy,
                                &n, &n_len, &e, &e_len, &point, &point_len);
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc, "key generation");
    int ok = spki_from_parts(algo, n, n_len, e, e_len, point, point_len, spki, spki_len);
    ykpiv_util_free(yk, n);
    ykpiv_util_free(yk, e);
    ykpiv_util_free(yk, point);
    if (ok != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 502, "card_error",
                        "the card returned a public key we cannot read");
    return 0;
}

int ykc_public_key(ykpiv_state *yk, int slot, uint8_t **spki, size_t *spki_len, yk_result *r)
{
    uint8_t buf[1024];
    size_t len = sizeof buf;
    ykpiv_metadata md;
    ykpiv_rc rc = ykpiv_get_metadata(yk, (uint8_t)slot, buf, &len);
    if (rc == YKPIV_OK)
        rc = ykpiv_util_parse_metadata(buf, len, &md);
    if (rc != YKPIV_OK)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 409, "no_key",
                        "slot %s holds no key (or the card cannot tell its public key)",
                        ykc_slot_name(slot));
    int ok = -1;
    if (YKPIV_IS_EC(md.algorithm)) {
        ok = spki_from_parts(md.algorithm, NULL, 0, NULL, 0, md.pubkey, md.pubkey_len, spki,
                             spki_len);
    } else if (YKPIV_IS_RSA(md.algorithm)) {
        /* RSA metadata: modulus under tag 0x81 and exponent under 0x82. */
        size_t nl = 0, el = 0;
        const uint8_t *n = tlv_find(md.pubkey, md.pubkey_len, 0x81, &nl);
        const uint8_t *e = tlv_find(md.pubkey, md.pubkey_len, 0x82, &el);
        if (n && e)
            ok = spki_from_parts(md.algorithm, n, nl, e, el, NULL, 0, spki, spki_len);
    }
    if (ok != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 502, "card_error",
                        "cannot read the public key of slot %s", ykc_slot_name(slot));
    return 0;
}

/* Big-endian bytes of an mp_int, left-padded to width. */
static int mp_bytes(mp_int *v, uint8_t *out, size_t width)
{
    int sz = mp_unsigned_bin_size(v);
    if (sz < 0 || (size_t)sz > width)
        return -1;
    memset(out, 0, width);
    return mp_to_unsigned_bin(v, out + width - (size_t)sz) == MP_OKAY ? 0 : -1;
}

int ykc_import_key(ykpiv_state *yk, int slot, const pki_key *key, int pin_policy, int touch_policy,
                   yk_result *r)
{
    uint8_t algo = 0;
    if (algo_for(pki_key_get_type(key), &algo, r) != 0)
        return r->status;
    if (algo == YKPIV_ALGO_RSA2048 && pki_key_rsa_bits(key) != 2048)
        return ykc_fail(r, PKI_SIGN_ERR_BAD_ALG, 400, "unsupported_key",
                        "a YubiKey imports RSA keys of 2048 bits, not %u", pki_key_rsa_bits(key));
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (pki_key_to_pkcs8_der(key, &der, &der_len) != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "cannot export the key");
    word32 idx = 0;
    int off = wc_GetPkcs8TraditionalOffset(der, &idx, (word32)der_len);
    ykpiv_rc rc = YKPIV_GENERIC_ERROR;
    bool parsed = false;
    uint8_t parts[5][128];
    if (off >= 0 && algo == YKPIV_ALGO_RSA2048) {
        RsaKey rsa;
        if (wc_InitRsaKey(&rsa, NULL) == 0) {
            if (wc_RsaPrivateKeyDecode(der, &idx, &rsa, (word32)der_len) == 0 &&
                mp_bytes(&rsa.p, parts[0], 128) == 0 && mp_bytes(&rsa.q, parts[1], 128) == 0 &&
                mp_bytes(&rsa.dP, parts[2], 128) == 0 && mp_bytes(&rsa.dQ, parts[3], 128) == 0 &&
                mp_bytes(&rsa.u, parts[4], 128) == 0) {
                parsed = true;
                rc = ykpiv_import_private_key(yk, (uint8_t)slot, algo, parts[0], 128, parts[1], 128,
                                              parts[2], 128, parts[3], 128, parts[4], 128, NULL, 0,
                                              (uint8_t)pin_policy, (uint8_t)touch_policy);
            }
            wc_FreeRsaKey(&rsa);
        }
    } else if (off >= 0) {
        ecc_key ecc;
        if (wc_ecc_init(&ecc) == 0) {
            word32 plen = algo == YKPIV_ALGO_ECCP256 ? 32 : 48;
            word32 got = sizeof parts[0];
            if (wc_EccPrivateKeyDecode(der, &idx, &ecc, (word32)der_len) == 0 &&
                wc_ecc_export_private_only(&ecc, parts[0], &got) == 0 && got <= plen) {
                /* The card wants the scalar at the curve's full width. */
                memmove(parts[0] + (plen - got), parts[0], got);
                memset(parts[0], 0, plen - got);
                parsed = true;
                rc = ykpiv_import_private_key(yk, (uint8_t)slot, algo, NULL, 0, NULL, 0, NULL, 0,
                                              NULL, 0, NULL, 0, parts[0], plen, (uint8_t)pin_policy,
                                              (uint8_t)touch_policy);
            }
            wc_ecc_free(&ecc);
        }
    }
    explicit_bzero(parts, sizeof parts);
    pki_secret_free(der, der_len);
    if (!parsed)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 400, "bad_key", "cannot read the private key");
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc, "key import");
    return 0;
}

int ykc_write_cert(ykpiv_state *yk, int slot, const uint8_t *der, size_t len, yk_result *r)
{
    ykpiv_rc rc =
        ykpiv_util_write_cert(yk, (uint8_t)slot, (uint8_t *)der, len, YKPIV_CERTINFO_UNCOMPRESSED);
    return rc == YKPIV_OK ? 0 : fail_rc_yk(yk, r, rc, "writing the certificate");
}

int ykc_read_cert(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r)
{
    uint8_t *data = NULL;
    size_t dl = 0;
    ykpiv_rc rc = ykpiv_util_read_cert(yk, (uint8_t)slot, &data, &dl);
    if (rc == YKPIV_OK && dl == 0) {
        ykpiv_util_free(yk, data);
        return 1;
    }
    if (rc != YKPIV_OK) {
        if (data)
            ykpiv_util_free(yk, data);
        if (rc == YKPIV_PCSC_ERROR)
            return fail_rc_yk(yk, r, rc, "reading the certificate");
        return 1;
    }
    *der = malloc(dl);
    if (*der)
        memcpy(*der, data, dl);
    *len = dl;
    ykpiv_util_free(yk, data);
    return *der ? 0 : ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
}

int ykc_delete_cert(ykpiv_state *yk, int slot, yk_result *r)
{
    ykpiv_rc rc = ykpiv_util_delete_cert(yk, (uint8_t)slot);
    return rc == YKPIV_OK ? 0 : fail_rc_yk(yk, r, rc, "deleting the certificate");
}

int ykc_clear_slot(ykpiv_state *yk, int slot, yk_result *r)
{
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    if (ykc_generate(yk, slot, PKI_KEY_EC_P256, YKPIV_PINPOLICY_ALWAYS, YKPIV_TOUCHPOLICY_NEVER,
                     &spki, &spki_len, r) != 0)
        return r->status;
    free(spki);
    return ykc_delete_cert(yk, slot, r);
}

int ykc_attest(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r)
{
    uint8_t buf[3072];
    size_t bl = sizeof buf;
    ykpiv_rc rc = ykpiv_attest(yk, (uint8_t)slot, buf, &bl);
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc,
                          "attestation (only keys generated on the card can be attested)");
    *der = malloc(bl);
    if (!*der)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
    memcpy(*der, buf, bl);
    *len = bl;
    return 0;
}

static int hash_for(pki_sig_alg alg, enum wc_HashType *ht, int *oid)
{
    switch (alg) {
    case PKI_SIG_RSA_PKCS1_SHA256:
    case PKI_SIG_ECDSA_SHA256:
        *ht = WC_HASH_TYPE_SHA256;
        *oid = SHA256h;
        return 0;
    case PKI_SIG_RSA_PKCS1_SHA384:
    case PKI_SIG_ECDSA_SHA384:
        *ht = WC_HASH_TYPE_SHA384;
        *oid = SHA384h;
        return 0;
    case PKI_SIG_RSA_PKCS1_SHA512:
    case PKI_SIG_ECDSA_SHA512:
        *ht = WC_HASH_TYPE_SHA512;
        *oid = SHA512h;
        return 0;
    default:
        return -1;
    }
}

int ykc_sign(ykpiv_state *yk, int slot, pki_key_type type, pki_sig_alg alg, const uint8_t *tbs,
             size_t tbs_len, uint8_t **sig, size_t *sig_len, yk_result *r)
{
    uint8_t algo = 0;
    enum wc_HashType ht;
    int oid;
    if (algo_for(type, &algo, r) != 0)
        return r->status;
    if (!pki_sig_alg_fits_key(alg, type) || hash_for(alg, &ht, &oid) != 0)
        return ykc_fail(r, PKI_SIGN_ERR_BAD_ALG, 400, "bad_algorithm",
                        "%s cannot be made with this slot's key", pki_sig_alg_name(alg));
    uint8_t digest[WC_MAX_DIGEST_SIZE];
    int dlen = wc_HashGetDigestSize(ht);
    if (dlen <= 0 || wc_Hash(ht, tbs, (word32)tbs_len, digest, sizeof digest) != 0)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "hashing failed");
    uint8_t in[256], out[512];
    size_t in_len, out_len = sizeof out;
    if (algo == YKPIV_ALGO_RSA2048) {
        /* EMSA-PKCS1-v1_5: 00 01 FF..FF 00 DigestInfo, the card does the raw RSA. */
        uint8_t info[MAX_ENCODED_SIG_SZ];
        word32 il = wc_EncodeSignature(info, digest, (word32)dlen, oid);
        if (il == 0 || il + 11 > sizeof in)
            return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "encoding failed");
        in[0] = 0x00;
        in[1] = 0x01;
        memset(in + 2, 0xff, sizeof in - il - 3);
        in[sizeof in - il - 1] = 0x00;
        memcpy(in + sizeof in - il, info, il);
        in_len = sizeof in;
    } else {
        /* ECDSA signs the leftmost bits of the hash that fit the curve. */
        size_t field = algo == YKPIV_ALGO_ECCP256 ? 32 : 48;
        in_len = (size_t)dlen < field ? (size_t)dlen : field;
        memcpy(in, digest, in_len);
    }
    ykpiv_rc rc = ykpiv_sign_data(yk, in, in_len, out, &out_len, algo, (uint8_t)slot);
    if (rc != YKPIV_OK)
        return fail_rc_yk(yk, r, rc, "signing");
    *sig = malloc(out_len);
    if (!*sig)
        return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
    memcpy(*sig, out, out_len);
    *sig_len = out_len;
    return 0;
}
