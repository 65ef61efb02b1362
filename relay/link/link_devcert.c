/* Device certificates from the relay: at enrolment the relay certifies the appliance's device
 * key with its link key (subject CN=<device name>, issuer the relay's link certificate), and
 * hands the certificate over in ENROLLED. The registry keeps it next to the self-signed
 * certificate the appliance enrolled with, and either one identifies the appliance (same key,
 * same name), so an appliance may switch to the relay's certificate whenever it likes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/link_impl.h"
#include "pkix/pkix.h"
#include "util/timefmt.h"
#include "x509/x509.h"

/* Device certificates live as long as the link certificate that issued them. */
#define DEVICE_CERT_SKEW 300

int relay_link_issuer(pki_issuer *is, int64_t not_before, int64_t not_after, char *err,
                      size_t errlen)
{
    size_t link_len;
    const uint8_t *link_der = link_identity_cert(G_LINK.id, &link_len);
    memset(is, 0, sizeof *is);
    if (pki_issuer_from_cert(is, link_der, link_len, err, errlen) != 0)
        return -1;
    /* The link certificate is an end-entity certificate (it predates these uses and appliances
     * pin it by fingerprint, so it stays as it is): the lints see it as the issuer it acts as
     * here. Nothing verifies these certificates by path validation: the relay pins what it
     * issued, the agent pins the relay by fingerprint. */
    is->is_ca = 1;
    is->path_len = -1;
    is->has_key_usage = 0;
    if (is->not_before > not_before)
        is->not_before = not_before;
    if (is->not_after < not_after)
        is->not_after = not_after;
    return 0;
}

int link_device_cert_issue(const uint8_t *self_cert, size_t len, const char *name, uint8_t **der,
                           size_t *der_len, char *err, size_t errlen)
{
    pki_cert *dev = pki_cert_parse(self_cert, len, err, errlen);
    if (!dev)
        return -1;
    size_t link_len;
    const uint8_t *link_der = link_identity_cert(G_LINK.id, &link_len);
    pki_cert *link = pki_cert_parse(link_der, link_len, err, errlen);
    int rc = -1;
    pki_issuer is;
    memset(&is, 0, sizeof is);
    pki_cert_template t;
    pki_cert_template_init(&t);
    int64_t now = pki_now();
    if (!link || pki_name_add(&t.subject, "CN", name, err, errlen) != 0)
        goto out;
    t.not_before = now - DEVICE_CERT_SKEW;
    t.not_after = link->not_after > now ? link->not_after : now + 86400;
    t.spki = dev->spki.p;
    t.spki_len = dev->spki.len;
    t.sig_alg = PKI_SIG_ECDSA_SHA256;
    t.key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_AGREEMENT;
    if (relay_link_issuer(&is, t.not_before, t.not_after, err, errlen) != 0)
        goto out;
    char why[256] = "";
    if (pki_cert_build_sync(&t, &is, link_identity_signer(G_LINK.id), der, der_len, why,
                            sizeof why) != 0) {
        snprintf(err, errlen, "cannot make the device certificate: %s", why);
        goto out;
    }
    rc = 0;
out:
    pki_issuer_free(&is);
    pki_cert_free(link);
    pki_cert_free(dev);
    return rc;
}
