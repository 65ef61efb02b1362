/* The link envelope and its checks (lib/link): a message sealed by one side opens on the other
 * with every field intact; each hostile case is refused with its own code — a forged signature,
 * a valid signature by someone other than the pinned peer, a replay (also after the replay cache
 * is reopened, as after a restart), an expired or future message, a message for another
 * recipient or sealed to another key, a damaged envelope, malformed messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/pkcs7.h>
#include <wolfssl/wolfcrypt/random.h>

#include "link/link.h"
#include "link/link_ephemeral.h"
#include "util/timefmt.h"

#define RELAY "relay:test"
#define DEVICE "device:0001"

static link_identity *relay_id, *device_id, *other_device, *mallory;
static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    relay_id = link_identity_generate(RELAY, err, sizeof err);
    device_id = link_identity_generate(DEVICE, err, sizeof err);
    other_device = link_identity_generate("device:0002", err, sizeof err);
    /* The attacker calls itself the relay; only its key differs. */
    mallory = link_identity_generate(RELAY, err, sizeof err);
    assert_non_null(relay_id);
    assert_non_null(device_id);
    assert_non_null(other_device);
    assert_non_null(mallory);
    fake_now = pki_time_from_parts(2026, 11, 27, 12, 0, 0);
    pki_set_clock(fake_clock);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    link_identity_free(relay_id);
    link_identity_free(device_id);
    link_identity_free(other_device);
    link_identity_free(mallory);
    pki_set_clock(NULL);
    return 0;
}

static const uint8_t *cert_of(link_identity *id, size_t *len)
{
    return link_identity_cert(id, len);
}

/* A sign request from the relay to the device, sealed. */
static void seal_sign_request(link_identity *from, link_identity *to, const char *recipient,
                              int lifetime, uint8_t **env, size_t *env_len, link_msg *sent)
{
    static const uint8_t tbs[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    link_sign_req req = {.alg = PKI_SIG_ECDSA_SHA256, .tbs = tbs, .tbs_len = sizeof tbs};
    uint8_t *body;
    size_t body_len;
    assert_int_equal(link_sign_req_encode(&req, &body, &body_len), LINK_OK);
    assert_int_equal(link_msg_init(sent, LINK_MSG_SIGN_REQ, RELAY, recipient, lifetime), 0);
    strcpy(sent->ca_id, "ca-42");
    strcpy(sent->slot, "12345678/9c");
    sent->body = body;
    sent->body_len = body_len;
    size_t peer_len;
    const uint8_t *peer = cert_of(to, &peer_len);
    assert_int_equal(link_seal(from, peer, peer_len, sent, env, env_len), LINK_OK);
    free(body);
    sent->body = NULL;
}

static int open_at_device(link_replay *replay, const uint8_t *env, size_t env_len, link_msg *m,
                          uint8_t **content)
{
    size_t relay_len, content_len;
    const uint8_t *relay_cert = cert_of(relay_id, &relay_len);
    return link_open(device_id, relay_cert, relay_len, RELAY, replay, env, env_len, m, content,
                     &content_len);
}

static void test_round_trip(void **state)
{
    (void)state;
    link_replay *replay = link_replay_open(":memory:", NULL, 0);
    assert_non_null(replay);
    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env, &env_len, &sent);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_OK);
    assert_int_equal(got.type, LINK_MSG_SIGN_REQ);
    assert_memory_equal(got.request_id, sent.request_id, LINK_ID_LEN);
    assert_string_equal(got.sender, RELAY);
    assert_string_equal(got.recipient, DEVICE);
    assert_string_equal(got.ca_id, "ca-42");
    assert_string_equal(got.slot, "12345678/9c");
    assert_true(got.issued == fake_now && got.expires == fake_now + 30);
    link_sign_req req;
    assert_int_equal(link_sign_req_decode(got.body, got.body_len, &req), LINK_OK);
    assert_int_equal(req.alg, PKI_SIG_ECDSA_SHA256);
    assert_int_equal(req.tbs_len, 5);

    /* The answer goes back the other way, same request id. */
    link_msg reply;
    link_msg_reply(&reply, &got, LINK_MSG_SIGN_RESP, 30);
    static const uint8_t sig[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};
    link_sign_resp resp = {.status = 0, .sig = sig, .sig_len = sizeof sig};
    uint8_t *body, *env2, *content2;
    size_t body_len, env2_len, content2_len, relay_len, device_len;
    assert_int_equal(link_sign_resp_encode(&resp, &body, &body_len), LINK_OK);
    reply.body = body;
    reply.body_len = body_len;
    const uint8_t *relay_cert = cert_of(relay_id, &relay_len);
    const uint8_t *device_cert = cert_of(device_id, &device_len);
    assert_int_equal(link_seal(device_id, relay_cert, relay_len, &reply, &env2, &env2_len), 0);
    link_msg back;
    assert_int_equal(link_open(relay_id, device_cert, device_len, DEVICE, replay, env2, env2_len,
                               &back, &content2, &content2_len),
                     LINK_OK);
    assert_int_equal(back.type, LINK_MSG_SIGN_RESP);
    assert_memory_equal(back.request_id, sent.request_id, LINK_ID_LEN);
    link_sign_resp r2;
    assert_int_equal(link_sign_resp_decode(back.body, back.body_len, &r2), LINK_OK);
    assert_int_equal(r2.status, 0);
    assert_memory_equal(r2.sig, sig, sizeof sig);

    /* An error answer carries a pki_sign_status and a reason, no signature. */
    link_sign_resp refused = {.status = PKI_SIGN_ERR_PIN_BLOCKED};
    strcpy(refused.reason, "PIN blocked");
    uint8_t *rb;
    size_t rb_len;
    assert_int_equal(link_sign_resp_encode(&refused, &rb, &rb_len), LINK_OK);
    link_sign_resp r3;
    assert_int_equal(link_sign_resp_decode(rb, rb_len, &r3), LINK_OK);
    assert_int_equal(r3.status, PKI_SIGN_ERR_PIN_BLOCKED);
    assert_string_equal(r3.reason, "PIN blocked");
    assert_null(r3.sig);

    free(rb);
    free(body);
    free(env);
    free(env2);
    free(content);
    free(content2);
    link_replay_close(replay);
}

/* The attacker's own certificate, its own valid signature: not the pinned relay. */
static void test_wrong_signer(void **state)
{
    (void)state;
    uint8_t *env, *content = NULL;
    size_t env_len;
    link_msg sent, got;
    seal_sign_request(mallory, device_id, DEVICE, 30, &env, &env_len, &sent);
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_WRONG_SIGNER);
    assert_null(content);
    free(env);
}

/* The pinned relay's certificate in the SignedData, but the signature made with another key:
 * built with wolfSSL directly, as an attacker would. */
static void test_forged_signature(void **state)
{
    (void)state;
    link_msg m;
    link_msg_init(&m, LINK_MSG_SIGN_REQ, RELAY, DEVICE, 30);
    uint8_t *msg;
    size_t msg_len;
    assert_int_equal(link_msg_encode(&m, &msg, &msg_len), LINK_OK);
    uint8_t *mkey;
    size_t mkey_len, relay_len, device_len;
    assert_int_equal(link_identity_export_key(mallory, &mkey, &mkey_len), 0);
    const uint8_t *relay_cert = cert_of(relay_id, &relay_len);
    const uint8_t *device_cert = cert_of(device_id, &device_len);

    WC_RNG rng;
    assert_int_equal(wc_InitRng(&rng), 0);
    PKCS7 *p7 = wc_PKCS7_New(NULL, INVALID_DEVID);
    assert_int_equal(wc_PKCS7_InitWithCert(p7, (byte *)relay_cert, (word32)relay_len), 0);
    p7->rng = &rng;
    p7->content = msg;
    p7->contentSz = (word32)msg_len;
    p7->contentOID = DATA;
    p7->hashOID = SHA256h;
    p7->encryptOID = ECDSAk;
    p7->privateKey = mkey;
    p7->privateKeySz = (word32)mkey_len;
    uint8_t sd[8192];
    int sd_len = wc_PKCS7_EncodeSignedData(p7, sd, sizeof sd);
    assert_true(sd_len > 0);
    wc_PKCS7_Free(p7);

    p7 = wc_PKCS7_New(NULL, INVALID_DEVID);
    assert_int_equal(wc_PKCS7_InitWithCert(p7, NULL, 0), 0);
    p7->rng = &rng;
    p7->content = sd;
    p7->contentSz = (word32)sd_len;
    p7->contentOID = SIGNED_DATA;
    p7->encryptOID = AES256GCMb;
    assert_true(wc_PKCS7_AddRecipient_KARI(p7, device_cert, (word32)device_len, AES256_WRAP,
                                           dhSinglePass_stdDH_sha256kdf_scheme, NULL, 0, 0) >= 0);
    uint8_t env[16384];
    int env_len = wc_PKCS7_EncodeAuthEnvelopedData(p7, env, sizeof env);
    assert_true(env_len > 0);
    wc_PKCS7_Free(p7);
    wc_FreeRng(&rng);

    link_msg got;
    uint8_t *content = NULL;
    assert_int_equal(open_at_device(NULL, env, (size_t)env_len, &got, &content),
                     LINK_ERR_SIGNATURE);
    assert_null(content);

    /* And a genuine SignedData with one signature octet changed. */
    uint8_t *env2, *signed_der, *c2 = NULL;
    size_t env2_len, signed_len, c2_len;
    link_msg sent;
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env2, &env2_len, &sent);
    assert_int_equal(link_unwrap(device_id, env2, env2_len, &signed_der, &signed_len), LINK_OK);
    signed_der[signed_len - 3] ^= 0x01; /* inside the ECDSA signature value, at the end */
    assert_int_equal(link_verify(signed_der, signed_len, relay_cert, relay_len, &got, &c2, &c2_len),
                     LINK_ERR_SIGNATURE);
    assert_null(c2);
    free(signed_der);

    /* And one with an octet of the signed message changed (the sender's name). */
    assert_int_equal(link_unwrap(device_id, env2, env2_len, &signed_der, &signed_len), LINK_OK);
    uint8_t *at = memmem(signed_der, signed_len, RELAY, strlen(RELAY));
    assert_non_null(at);
    at[0] ^= 0x20; /* "relay:test" -> "Relay:test" */
    assert_int_equal(link_verify(signed_der, signed_len, relay_cert, relay_len, &got, &c2, &c2_len),
                     LINK_ERR_SIGNATURE);
    assert_null(c2);
    at[0] ^= 0x20; /* restored, it verifies: the change alone made the difference */
    assert_int_equal(link_verify(signed_der, signed_len, relay_cert, relay_len, &got, &c2, &c2_len),
                     LINK_OK);
    free(c2);
    free(signed_der);
    free(env2);
    pki_secret_free(mkey, mkey_len);
    free(msg);
}

static void test_replay_and_restart(void **state)
{
    (void)state;
    char path[] = "/tmp/link-replay-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    char err[256];
    link_replay *replay = link_replay_open(path, err, sizeof err);
    assert_non_null(replay);
    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    seal_sign_request(relay_id, device_id, DEVICE, 60, &env, &env_len, &sent);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_OK);
    free(content);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_REPLAY);
    assert_null(content);

    /* A restart: the cache is opened again from its file and still remembers. */
    link_replay_close(replay);
    replay = link_replay_open(path, err, sizeof err);
    assert_non_null(replay);
    assert_int_equal(link_replay_count(replay), 1);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_REPLAY);

    /* A rejected message is not remembered; once expired, ids are purged (the expiry check
     * refuses the message anyway). */
    uint8_t *env_late;
    size_t late_len;
    seal_sign_request(relay_id, device_id, "device:9999", 60, &env_late, &late_len, &sent);
    assert_int_equal(open_at_device(replay, env_late, late_len, &got, &content),
                     LINK_ERR_WRONG_RECIPIENT);
    assert_int_equal(link_replay_count(replay), 1);
    fake_now += 3600;
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_EXPIRED);
    uint8_t *env3, *c3;
    size_t env3_len;
    seal_sign_request(relay_id, device_id, DEVICE, 60, &env3, &env3_len, &sent);
    assert_int_equal(open_at_device(replay, env3, env3_len, &got, &c3), LINK_OK);
    assert_int_equal(link_replay_count(replay), 1); /* the old id purged, the new one kept */
    fake_now -= 3600;
    free(c3);
    free(env3);
    free(env_late);
    free(env);
    link_replay_close(replay);
    unlink(path);
    char side[sizeof path + 8];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void test_times(void **state)
{
    (void)state;
    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    int64_t t0 = fake_now;
    seal_sign_request(relay_id, device_id, DEVICE, 10, &env, &env_len, &sent);
    fake_now = t0 + 10 + LINK_CLOCK_SKEW; /* expiry plus the allowed skew: gone */
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_EXPIRED);
    fake_now = t0 + 10 + LINK_CLOCK_SKEW - 1;
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_OK);
    free(content);
    fake_now = t0 - LINK_CLOCK_SKEW - 1; /* the receiver's clock is behind by more than skew */
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_NOT_YET_VALID);
    fake_now = t0;
    free(env);
    /* A sender may not ask to be remembered for longer than LINK_MAX_LIFETIME. */
    seal_sign_request(relay_id, device_id, DEVICE, LINK_MAX_LIFETIME + 1, &env, &env_len, &sent);
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_LIFETIME);
    free(env);
}

static void test_addressing(void **state)
{
    (void)state;
    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    /* Sealed to this device's key but addressed to another appliance. */
    seal_sign_request(relay_id, device_id, "device:0002", 30, &env, &env_len, &sent);
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_WRONG_RECIPIENT);
    free(env);
    /* Sealed to another appliance's key: this one cannot even read it. */
    seal_sign_request(relay_id, other_device, DEVICE, 30, &env, &env_len, &sent);
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_DECRYPT);
    free(env);
    /* Pinned relay, but the message claims another relay name. */
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env, &env_len, &sent);
    size_t relay_len, content_len;
    const uint8_t *relay_cert = cert_of(relay_id, &relay_len);
    assert_int_equal(link_open(device_id, relay_cert, relay_len, "relay:elsewhere", NULL, env,
                               env_len, &got, &content, &content_len),
                     LINK_ERR_WRONG_SENDER);
    /* A damaged envelope (AES-GCM tag) and garbage. */
    env[env_len - 5] ^= 0x40;
    assert_int_equal(open_at_device(NULL, env, env_len, &got, &content), LINK_ERR_DECRYPT);
    assert_int_equal(open_at_device(NULL, env, env_len - 1, &got, &content), LINK_ERR_MALFORMED);
    free(env);
}

static void test_peek_signer(void **state)
{
    (void)state;
    uint8_t *env, *signed_der, *cert;
    size_t env_len, signed_len, cert_len, relay_len;
    link_msg sent;
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env, &env_len, &sent);
    assert_int_equal(link_unwrap(device_id, env, env_len, &signed_der, &signed_len), LINK_OK);
    assert_int_equal(link_peek_signer(signed_der, signed_len, &cert, &cert_len), LINK_OK);
    const uint8_t *relay_cert = cert_of(relay_id, &relay_len);
    assert_int_equal(cert_len, relay_len);
    assert_memory_equal(cert, relay_cert, relay_len);
    char fp[65];
    assert_int_equal(link_cert_fingerprint(cert, cert_len, fp), 0);
    assert_int_equal(strlen(fp), 64);
    free(cert);
    free(signed_der);
    free(env);
}

/* An appliance's name is bound to its key: the relay recomputes it from the certificate, so
 * another key cannot enrol under an existing appliance's name. */
static void test_device_name(void **state)
{
    (void)state;
    char a[LINK_NAME_MAX], b[LINK_NAME_MAX], c[LINK_NAME_MAX];
    size_t len, spki_len;
    const uint8_t *cert = link_identity_cert(device_id, &len);
    const uint8_t *spki = pki_key_spki(link_identity_key(device_id), &spki_len);
    assert_int_equal(link_device_name_of_cert(cert, len, a), 0);
    assert_int_equal(link_device_name(spki, spki_len, b), 0);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 7 + 16);
    assert_memory_equal(a, "device:", 7);
    cert = link_identity_cert(other_device, &len);
    assert_int_equal(link_device_name_of_cert(cert, len, c), 0);
    assert_string_not_equal(a, c);
    static const uint8_t junk[] = {0x30, 0x01, 0x00};
    assert_int_equal(link_device_name_of_cert(junk, sizeof junk, c), -1);
}

static void expect_malformed(const link_msg *m_in, size_t patch_at, uint8_t value)
{
    uint8_t *der;
    size_t len;
    assert_int_equal(link_msg_encode(m_in, &der, &len), LINK_OK);
    assert_true(patch_at < len);
    der[patch_at] = value;
    link_msg m;
    assert_int_equal(link_msg_decode(der, len, &m), LINK_ERR_MALFORMED);
    free(der);
}

/* The originator's public key (X9.63, 65 octets) and the ukm (32 octets) of a sealed envelope,
 * found by their encodings in the KeyAgreeRecipientInfo: originatorKey's BIT STRING
 * (03 42 00 04 …) and ukm [1] EXPLICIT OCTET STRING (a1 22 04 20 …). */
static void kari_fields(const uint8_t *env, size_t len, uint8_t point[65], uint8_t ukm[32])
{
    static const uint8_t point_tag[] = {0x03, 0x42, 0x00, 0x04};
    static const uint8_t ukm_tag[] = {0xa1, 0x22, 0x04, 0x20};
    int have_point = 0, have_ukm = 0;
    for (size_t i = 0; i + 4 + 64 <= len; i++) {
        if (!have_point && memcmp(env + i, point_tag, 4) == 0) {
            memcpy(point, env + i + 3, 65);
            have_point = 1;
        } else if (!have_ukm && memcmp(env + i, ukm_tag, 4) == 0) {
            memcpy(ukm, env + i + 4, 32);
            have_ukm = 1;
        }
    }
    assert_true(have_point);
    assert_true(have_ukm);
}

static void seal_and_open_at_device(link_replay *replay, uint8_t point[65], uint8_t ukm[32])
{
    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env, &env_len, &sent);
    kari_fields(env, env_len, point, ukm);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_OK);
    free(content);
    free(env);
}

/* A sender keeps its ephemeral key per recipient for a while (link_ephemeral.h): the same
 * originator key on consecutive messages to one recipient, a fresh ukm on every message, a
 * different key for another recipient, and a new key once the kept one is used up or
 * forgotten. Every envelope opens. */
static void test_kept_ephemeral_key(void **state)
{
    (void)state;
    link_replay *replay = link_replay_open(":memory:", NULL, 0);
    assert_non_null(replay);
    link_ephemeral_forget_all();
    uint8_t p1[65], u1[32], p2[65], u2[32];
    seal_and_open_at_device(replay, p1, u1);
    seal_and_open_at_device(replay, p2, u2);
    assert_memory_equal(p1, p2, 65);
    assert_memory_not_equal(u1, u2, 32);

    /* To another recipient: another key. */
    uint8_t *env;
    size_t env_len;
    link_msg sent;
    seal_sign_request(relay_id, other_device, "device:0002", 30, &env, &env_len, &sent);
    uint8_t po[65], uo[32];
    kari_fields(env, env_len, po, uo);
    assert_memory_not_equal(po, p1, 65);
    free(env);

    /* Used up: two were used above; the key changes on the use after the last allowed one. */
    uint8_t p[65], u[32];
    for (int i = 2; i < LINK_EPHEMERAL_MAX_USES; i++) {
        seal_and_open_at_device(replay, p, u);
        assert_memory_equal(p, p1, 65);
    }
    seal_and_open_at_device(replay, p, u);
    assert_memory_not_equal(p, p1, 65);

    /* Forgotten: a new one. */
    uint8_t q[65];
    link_ephemeral_forget_all();
    seal_and_open_at_device(replay, q, u);
    assert_memory_not_equal(q, p, 65);
    link_replay_close(replay);
}

/* Where the originator's point starts in a sealed envelope (see kari_fields). */
static size_t point_offset(const uint8_t *env, size_t len)
{
    static const uint8_t point_tag[] = {0x03, 0x42, 0x00, 0x04};
    for (size_t i = 0; i + 4 + 64 <= len; i++)
        if (memcmp(env + i, point_tag, 4) == 0)
            return i + 3;
    fail_msg("no originator point");
    return 0;
}

/* Both sides remember the secret agreed with a kept ephemeral key (link_ephemeral.h). A
 * remembered secret must never stand in for another pair of keys: with the cache warm, an
 * envelope whose originator point was changed (off the curve, or another valid point) does
 * not open, nor does one sealed to another appliance; the genuine one still does. */
static void test_agreed_secret_per_pair(void **state)
{
    (void)state;
    link_replay *replay = link_replay_open(":memory:", NULL, 0);
    assert_non_null(replay);
    link_ephemeral_forget_all();
    uint8_t p[65], u[32];
    seal_and_open_at_device(replay, p, u); /* the secret is now remembered on both sides */

    uint8_t *env, *content;
    size_t env_len;
    link_msg sent, got;
    seal_sign_request(relay_id, device_id, DEVICE, 30, &env, &env_len, &sent);
    size_t at = point_offset(env, env_len);
    uint8_t saved[65];
    memcpy(saved, env + at, sizeof saved);
    env[at + 20] ^= 0x01; /* off the curve */
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_DECRYPT);
    /* Another valid point: the generator of P-256. */
    static const uint8_t generator[65] = {
        0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
        0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
        0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
        0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
        0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
    memcpy(env + at, generator, sizeof generator);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_DECRYPT);
    memcpy(env + at, saved, sizeof saved);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_OK);
    free(content);
    free(env);

    /* Sealed to another appliance: this one's remembered secrets do not open it. */
    seal_sign_request(relay_id, other_device, DEVICE, 30, &env, &env_len, &sent);
    assert_int_equal(open_at_device(replay, env, env_len, &got, &content), LINK_ERR_DECRYPT);
    free(env);
    link_replay_close(replay);
}

static void test_codec_strict(void **state)
{
    (void)state;
    link_msg m;
    link_msg_init(&m, LINK_MSG_PING, RELAY, DEVICE, 30);
    uint8_t *der;
    size_t len;
    assert_int_equal(link_msg_encode(&m, &der, &len), LINK_OK);
    link_msg back;
    assert_int_equal(link_msg_decode(der, len, &back), LINK_OK);
    assert_int_equal(link_msg_decode(der, len - 1, &back), LINK_ERR_MALFORMED); /* truncated */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, der, len);
    longer[len] = 0;
    assert_int_equal(link_msg_decode(longer, len + 1, &back), LINK_ERR_MALFORMED); /* trailing */
    free(longer);
    /* Layout: 30 LL | 02 01 01 (version) | 0a 01 TT (type) | 04 10 <id> … */
    expect_malformed(&m, 4, 0x02); /* version 2 */
    expect_malformed(&m, 7, 0x00); /* type 0 */
    expect_malformed(&m, 7, 0x7f); /* unknown type */
    expect_malformed(&m, 9, 0x0f); /* id of 15 octets */
    free(der);
    /* Names that do not fit are refused at init. */
    char longname[LINK_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(link_msg_init(&m, LINK_MSG_PING, longname, DEVICE, 30), -1);
    /* Bodies: a success must carry a signature, a failure none; algorithms are known ones. */
    link_sign_resp bad = {.status = 0};
    uint8_t *b;
    size_t bl;
    assert_int_equal(link_sign_resp_encode(&bad, &b, &bl), LINK_OK);
    link_sign_resp r;
    assert_int_equal(link_sign_resp_decode(b, bl, &r), LINK_ERR_MALFORMED);
    free(b);
    static const uint8_t req99[] = {0x30, 0x06, 0x02, 0x01, 0x63, 0x04, 0x01, 0x00};
    link_sign_req q;
    assert_int_equal(link_sign_req_decode(req99, sizeof req99, &q), LINK_ERR_MALFORMED);
    assert_string_equal(link_status_code(LINK_ERR_REPLAY), "replayed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_signer),
        cmocka_unit_test(test_forged_signature),
        cmocka_unit_test(test_replay_and_restart),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_addressing),
        cmocka_unit_test(test_peek_signer),
        cmocka_unit_test(test_device_name),
        cmocka_unit_test(test_codec_strict),
        cmocka_unit_test(test_kept_ephemeral_key),
        cmocka_unit_test(test_agreed_secret_per_pair),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
