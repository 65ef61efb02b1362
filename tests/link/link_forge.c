/* The forger of test_link_hostile.py: sign requests a man in the middle can make without the
 * relay's key, sealed to an appliance's (public) device certificate, so they reach the appliance's
 * signature check:
 *
 *   link-forge forged|foreign RELAY_CERT DEVICE_CERT DEVICE_NAME CA_ID SLOT TBS OUT
 *
 *   forged   a SignedData carrying the relay's pinned certificate but signed with a key of ours:
 *            the appliance must refuse it as bad_signature;
 *   foreign  a valid SignedData by a key of ours whose self-signed certificate calls itself the
 *            relay: refused as wrong_signer.
 *
 * The message is otherwise the relay's own: sign-request, sender "relay", the appliance as
 * recipient, the CA and slot given, valid now for 60 s, an ECDSA-with-SHA-256 request for the
 * to-be-signed bytes in TBS. Certificates and TBS are DER files; OUT receives the envelope.
 * Exit 0, or 1 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/pkcs7.h>
#include <wolfssl/wolfcrypt/random.h>

#include "keys/keys.h"
#include "link/link.h"
#include "tool_io.h"

#define RELAY_NAME "relay"

/* SignedData over msg with the relay's certificate attached but our key signing, then
 * AuthEnvelopedData to the device: what lib/link would build, with a signature that cannot
 * verify under the certificate it names. */
static int seal_forged(link_identity *mallory, const uint8_t *relay_cert, size_t relay_len,
                       const uint8_t *device_cert, size_t device_len, const uint8_t *msg,
                       size_t msg_len, uint8_t **out, size_t *out_len)
{
    uint8_t *key = NULL;
    size_t key_len = 0;
    if (link_identity_export_key(mallory, &key, &key_len) != 0)
        return -1;
    size_t sd_cap = msg_len + relay_len + 1024, env_cap = sd_cap + device_len + 1024;
    uint8_t *sd = malloc(sd_cap), *env = malloc(env_cap);
    int rc = -1, sd_len = 0, env_len = 0;
    WC_RNG rng;
    if (!sd || !env || wc_InitRng(&rng) != 0) {
        free(sd);
        free(env);
        pki_secret_free(key, key_len);
        return -1;
    }
    PKCS7 *p7 = wc_PKCS7_New(NULL, INVALID_DEVID);
    if (p7 && wc_PKCS7_InitWithCert(p7, (byte *)relay_cert, (word32)relay_len) == 0) {
        p7->rng = &rng;
        p7->content = (byte *)msg;
        p7->contentSz = (word32)msg_len;
        p7->contentOID = DATA;
        p7->hashOID = SHA256h;
        p7->encryptOID = ECDSAk;
        p7->privateKey = key;
        p7->privateKeySz = (word32)key_len;
        sd_len = wc_PKCS7_EncodeSignedData(p7, sd, (word32)sd_cap);
    }
    if (p7)
        wc_PKCS7_Free(p7);
    p7 = sd_len > 0 ? wc_PKCS7_New(NULL, INVALID_DEVID) : NULL;
    if (p7 && wc_PKCS7_InitWithCert(p7, NULL, 0) == 0) {
        p7->rng = &rng;
        p7->content = sd;
        p7->contentSz = (word32)sd_len;
        p7->contentOID = SIGNED_DATA;
        p7->encryptOID = AES256GCMb;
        if (wc_PKCS7_AddRecipient_KARI(p7, device_cert, (word32)device_len, AES256_WRAP,
                                       dhSinglePass_stdDH_sha256kdf_scheme, NULL, 0, 0) >= 0)
            env_len = wc_PKCS7_EncodeAuthEnvelopedData(p7, env, (word32)env_cap);
    }
    if (p7)
        wc_PKCS7_Free(p7);
    wc_FreeRng(&rng);
    pki_secret_free(key, key_len);
    free(sd);
    if (env_len > 0) {
        *out = env;
        *out_len = (size_t)env_len;
        rc = 0;
    } else {
        free(env);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 9 || (strcmp(argv[1], "forged") != 0 && strcmp(argv[1], "foreign") != 0)) {
        fprintf(stderr, "usage: link-forge forged|foreign RELAY_CERT DEVICE_CERT DEVICE_NAME "
                        "CA_ID SLOT TBS OUT\n");
        return 2;
    }
    int forged = strcmp(argv[1], "forged") == 0;
    uint8_t *relay_cert = NULL, *device_cert = NULL, *tbs = NULL, *body = NULL, *msg = NULL,
            *env = NULL;
    size_t relay_len = 0, device_len = 0, tbs_len = 0, body_len = 0, msg_len = 0, env_len = 0;
    char err[256] = "";
    int rc = 1;
    link_identity *mallory = NULL;
    if (tool_read_all(argv[2], &relay_cert, &relay_len) ||
        tool_read_all(argv[3], &device_cert, &device_len) ||
        tool_read_all(argv[7], &tbs, &tbs_len)) {
        fprintf(stderr, "link-forge: cannot read the inputs\n");
        goto done;
    }
    link_sign_req req = {.alg = PKI_SIG_ECDSA_SHA256, .tbs = tbs, .tbs_len = tbs_len};
    link_msg m;
    if (link_sign_req_encode(&req, &body, &body_len) != LINK_OK ||
        link_msg_init(&m, LINK_MSG_SIGN_REQ, RELAY_NAME, argv[4], 60) != 0 ||
        strlen(argv[5]) >= sizeof m.ca_id || strlen(argv[6]) >= sizeof m.slot) {
        fprintf(stderr, "link-forge: cannot build the message\n");
        goto done;
    }
    snprintf(m.ca_id, sizeof m.ca_id, "%s", argv[5]);
    snprintf(m.slot, sizeof m.slot, "%s", argv[6]);
    m.body = body;
    m.body_len = body_len;
    mallory = link_identity_generate(RELAY_NAME, err, sizeof err);
    if (!mallory) {
        fprintf(stderr, "link-forge: %s\n", err);
        goto done;
    }
    int sealed;
    if (forged)
        sealed = link_msg_encode(&m, &msg, &msg_len) == LINK_OK &&
                 seal_forged(mallory, relay_cert, relay_len, device_cert, device_len, msg, msg_len,
                             &env, &env_len) == 0;
    else
        sealed = link_seal(mallory, device_cert, device_len, &m, &env, &env_len) == LINK_OK;
    if (!sealed || tool_write_all(argv[8], env, env_len) != 0) {
        fprintf(stderr, "link-forge: cannot seal or write the envelope\n");
        goto done;
    }
    rc = 0;
done:
    link_identity_free(mallory);
    free(relay_cert);
    free(device_cert);
    free(tbs);
    free(body);
    free(msg);
    free(env);
    return rc;
}
