/* A scripted appliance for test_hsm_relay.py: it speaks the link's envelope with lib/link, so a
 * test can send the relay what a real agent never would (offers with a mismatched key, a broken
 * CSR, a false attestation, another CA's token) and answer sign requests with a slot key held in
 * a file. The WebSocket around it is tests/link/linkpeer.py.
 *
 *   link-peer init DIR                        new device key + self-signed certificate in DIR
 *                                             (device.key PKCS#8 DER, device.crt DER); prints
 *                                             the device name
 *   link-peer seal DIR RELAY_CRT TYPE BODY OUT
 *                                             a message of TYPE (enrol, hello, ping, inventory)
 *                                             with the file BODY as body, sealed to the relay
 *   link-peer open DIR RELAY_CRT IN           opens an envelope from the relay: prints
 *                                             "<type> <request id hex> <ca_id> <slot>" and the
 *                                             body on the next line (JSON bodies as they are,
 *                                             a sign request as "<algorithm> <tbs hex>")
 *   link-peer answer DIR RELAY_CRT IN KEY OUT sign response to the sign request IN, signed with
 *                                             the PEM private key KEY (the "slot")
 *   link-peer adopt DIR RELAY_CRT CERT        from now on sign with CERT (DER; the device
 *                                             certificate the relay issued) instead of the
 *                                             self-signed one; refused unless it is for our key
 *
 * RELAY_CRT is the relay's link certificate (DER). Exit 0, or 1 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "link/link.h"
#include "tool_io.h"
#include "signer/soft_signer.h"
#include "util/encoding.h"

static int fail(const char *what)
{
    fprintf(stderr, "link-peer: %s\n", what);
    return 1;
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int cmd_init(const char *dir)
{
    char err[200], path[1024], name[LINK_NAME_MAX];
    pki_signer *k = pki_soft_signer_generate(PKI_KEY_EC_P256, 0);
    uint8_t *der = NULL;
    size_t len = 0;
    if (!k || pki_soft_signer_export_pkcs8_der(k, &der, &len) != 0 ||
        link_device_name(k->spki, k->spki_len, name) != 0)
        return fail("cannot make a key");
    link_identity *id = link_identity_self_signed(name, der, len, err, sizeof err);
    size_t cert_len;
    const uint8_t *cert = id ? link_identity_cert(id, &cert_len) : NULL;
    path_in(path, sizeof path, dir, "device.key");
    int rc = !cert || tool_write_all(path, der, len) != 0;
    path_in(path, sizeof path, dir, "device.crt");
    rc = rc || tool_write_all(path, cert, cert_len) != 0;
    if (!rc)
        printf("%s\n", name);
    pki_secret_free(der, len);
    link_identity_free(id);
    pki_signer_free(k);
    return rc ? fail("cannot write the identity") : 0;
}

static link_identity *load(const char *dir)
{
    char path[1024], err[200], name[LINK_NAME_MAX];
    uint8_t *key = NULL, *cert = NULL;
    size_t key_len = 0, cert_len = 0;
    path_in(path, sizeof path, dir, "device.key");
    int ok = tool_read_all(path, &key, &key_len) == 0;
    path_in(path, sizeof path, dir, "device.crt");
    ok = ok && tool_read_all(path, &cert, &cert_len) == 0 &&
         link_device_name_of_cert(cert, cert_len, name) == 0;
    link_identity *id =
        ok ? link_identity_load(name, key, key_len, cert, cert_len, err, sizeof err) : NULL;
    if (key)
        pki_secret_free(key, key_len);
    free(cert);
    return id;
}

static int type_of(const char *s)
{
    for (int t = 1; t <= LINK_MSG_TYPE_MAX; t++)
        if (strcmp(link_msg_type_name(t), s) == 0)
            return t;
    return 0;
}

static int seal_to(link_identity *id, const uint8_t *relay, size_t relay_len, const link_msg *m,
                   const char *out)
{
    uint8_t *env = NULL;
    size_t env_len = 0;
    int rc = link_seal(id, relay, relay_len, m, &env, &env_len) != LINK_OK ||
             tool_write_all(out, env, env_len) != 0;
    free(env);
    return rc ? fail("cannot seal") : 0;
}

static int cmd_seal(link_identity *id, const uint8_t *relay, size_t relay_len, const char *type,
                    const char *body_path, const char *out)
{
    uint8_t *body = NULL;
    size_t body_len = 0;
    link_msg m;
    int t = type_of(type);
    if (!t || tool_read_all(body_path, &body, &body_len) != 0 ||
        link_msg_init(&m, t, link_identity_name(id), "relay", 60) != 0) {
        free(body);
        return fail("bad type or body");
    }
    m.body = body;
    m.body_len = body_len;
    int rc = seal_to(id, relay, relay_len, &m, out);
    free(body);
    return rc;
}

/* Opens an envelope from the relay (pinned: relay). *content owns what m points into. */
static int open_env(link_identity *id, const uint8_t *relay, size_t relay_len, const char *in,
                    link_msg *m, uint8_t **content)
{
    uint8_t *env = NULL;
    size_t env_len = 0, content_len = 0;
    if (tool_read_all(in, &env, &env_len) != 0)
        return -1;
    int rc = link_open(id, relay, relay_len, "relay", NULL, env, env_len, m, content, &content_len);
    free(env);
    if (rc != LINK_OK)
        fprintf(stderr, "link-peer: %s\n", link_status_text(rc));
    return rc == LINK_OK ? 0 : -1;
}

static int cmd_open(link_identity *id, const uint8_t *relay, size_t relay_len, const char *in)
{
    link_msg m;
    uint8_t *content = NULL;
    if (open_env(id, relay, relay_len, in, &m, &content) != 0)
        return fail("cannot open");
    char *rid = pki_hex_encode(m.request_id, LINK_ID_LEN);
    printf("%s %s %s %s\n", link_msg_type_name(m.type), rid ? rid : "", m.ca_id[0] ? m.ca_id : "-",
           m.slot[0] ? m.slot : "-");
    free(rid);
    link_sign_req r;
    if (m.type == LINK_MSG_SIGN_REQ && link_sign_req_decode(m.body, m.body_len, &r) == LINK_OK) {
        char *tbs = pki_hex_encode(r.tbs, r.tbs_len);
        printf("%s %s\n", pki_sig_alg_name(r.alg), tbs ? tbs : "");
        free(tbs);
    } else {
        fwrite(m.body, 1, m.body_len, stdout);
        printf("\n");
    }
    free(content);
    return 0;
}

static int cmd_answer(link_identity *id, const uint8_t *relay, size_t relay_len, const char *in,
                      const char *key_path, const char *out)
{
    link_msg m, reply;
    uint8_t *content = NULL, *key = NULL, *sig = NULL, *body = NULL;
    size_t key_len = 0, sig_len = 0, body_len = 0;
    char err[200];
    link_sign_req r;
    pki_signer *k = NULL;
    int rc = 1;
    if (open_env(id, relay, relay_len, in, &m, &content) != 0 || m.type != LINK_MSG_SIGN_REQ ||
        link_sign_req_decode(m.body, m.body_len, &r) != LINK_OK) {
        fail("not a sign request");
        goto out;
    }
    if (tool_read_all(key_path, &key, &key_len) != 0 ||
        !(k = pki_soft_signer_from_pem((const char *)key, key_len, NULL, err, sizeof err)) ||
        pki_signer_sign_sync(k, r.alg, r.tbs, r.tbs_len, 10000, &sig, &sig_len) != PKI_SIGN_OK) {
        fail("cannot sign");
        goto out;
    }
    link_sign_resp resp = {.status = 0, .sig = sig, .sig_len = sig_len, .reason = ""};
    if (link_sign_resp_encode(&resp, &body, &body_len) != LINK_OK ||
        link_msg_reply(&reply, &m, LINK_MSG_SIGN_RESP, 60) != 0) {
        fail("cannot encode");
        goto out;
    }
    reply.body = body;
    reply.body_len = body_len;
    rc = seal_to(id, relay, relay_len, &reply, out);
out:
    free(content);
    free(key);
    free(sig);
    free(body);
    pki_signer_free(k);
    return rc;
}

static int cmd_adopt(link_identity *id, const char *dir, const char *cert_path)
{
    char path[1024], err[200];
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    int rc = tool_read_all(cert_path, &cert, &cert_len) != 0 ||
             link_identity_set_cert(id, cert, cert_len, err, sizeof err) != 0;
    path_in(path, sizeof path, dir, "device.crt");
    rc = rc || tool_write_all(path, cert, cert_len) != 0;
    free(cert);
    return rc ? fail("cannot adopt the certificate") : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "init") == 0)
        return cmd_init(argv[2]);
    if (argc < 5)
        return fail("usage: see the comment at the top of tests/link/link_peer.c");
    link_identity *id = load(argv[2]);
    uint8_t *relay = NULL;
    size_t relay_len = 0;
    if (!id || tool_read_all(argv[3], &relay, &relay_len) != 0) {
        link_identity_free(id);
        return fail("cannot load the identity or the relay certificate");
    }
    int rc;
    if (strcmp(argv[1], "seal") == 0 && argc == 7)
        rc = cmd_seal(id, relay, relay_len, argv[4], argv[5], argv[6]);
    else if (strcmp(argv[1], "open") == 0 && argc == 5)
        rc = cmd_open(id, relay, relay_len, argv[4]);
    else if (strcmp(argv[1], "adopt") == 0 && argc == 5)
        rc = cmd_adopt(id, argv[2], argv[4]);
    else if (strcmp(argv[1], "answer") == 0 && argc == 7)
        rc = cmd_answer(id, relay, relay_len, argv[4], argv[5], argv[6]);
    else
        rc = fail("unknown command or wrong arguments");
    free(relay);
    link_identity_free(id);
    return rc;
}
