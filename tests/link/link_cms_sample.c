/* Writes what an independent CMS implementation needs to check the link's SignedData (not a
 * test itself; test_link_cms.py runs it): a sign request sealed by one link identity to
 * another, opened (decrypted) by the recipient, in <dir>: signed.der (the CMS SignedData),
 * signer.der (the sender's certificate) and message.der (the LinkMessage it must carry).
 *     link-cms-sample <dir> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

static int write_file(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: link-cms-sample <dir>\n");
        return 2;
    }
    char err[256] = "";
    link_identity *relay = link_identity_generate("relay:cms-sample", err, sizeof err);
    link_identity *device =
        relay ? link_identity_generate("device:cms-sample", err, sizeof err) : NULL;
    if (!relay || !device) {
        fprintf(stderr, "link-cms-sample: %s\n", err);
        return 1;
    }
    static const uint8_t tbs[] = {0x30, 0x03, 0x02, 0x01, 0x07};
    link_sign_req req = {.alg = PKI_SIG_ECDSA_SHA256, .tbs = tbs, .tbs_len = sizeof tbs};
    link_msg m;
    uint8_t *body = NULL, *msg = NULL, *env = NULL, *sd = NULL;
    size_t body_len, msg_len, env_len, sd_len, rc_len, dc_len;
    const uint8_t *rcert = link_identity_cert(relay, &rc_len);
    const uint8_t *dcert = link_identity_cert(device, &dc_len);
    int rc = 1;
    if (link_sign_req_encode(&req, &body, &body_len) == LINK_OK &&
        link_msg_init(&m, LINK_MSG_SIGN_REQ, "relay:cms-sample", "device:cms-sample", 60) == 0) {
        m.body = body;
        m.body_len = body_len;
        if (link_msg_encode(&m, &msg, &msg_len) == LINK_OK &&
            link_seal(relay, dcert, dc_len, &m, &env, &env_len) == LINK_OK &&
            link_unwrap(device, env, env_len, &sd, &sd_len) == LINK_OK &&
            write_file(argv[1], "signed.der", sd, sd_len) == 0 &&
            write_file(argv[1], "signer.der", rcert, rc_len) == 0 &&
            write_file(argv[1], "message.der", msg, msg_len) == 0)
            rc = 0;
    }
    if (rc)
        fprintf(stderr, "link-cms-sample: sealing or writing failed\n");
    free(body);
    free(msg);
    free(env);
    free(sd);
    link_identity_free(relay);
    link_identity_free(device);
    return rc;
}
