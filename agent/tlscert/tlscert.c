#include "tlscert/tlscert.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

/* Writes data to path atomically (temp file + rename) with the given mode. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int make_self_signed(const char *cert_path, const char *key_path)
{
    WC_RNG rng;
    ecc_key key;
    Cert cert;
    static byte der[4096], pem[6144], kder[512], kpem[1024];
    int rc = -1, sz, ksz;
    if (wc_InitRng(&rng) != 0)
        return -1;
    if (wc_ecc_init(&key) != 0) {
        wc_FreeRng(&rng);
        return -1;
    }
    if (wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1) != 0 || wc_InitCert(&cert) != 0)
        goto out;
    snprintf(cert.subject.commonName, CTC_NAME_SIZE, "iothsm-agent local UI");
    snprintf(cert.subject.org, CTC_NAME_SIZE, "iothsm appliance");
    cert.daysValid = 3650;
    cert.sigType = CTC_SHA256wECDSA;
    sz = wc_MakeCert_ex(&cert, der, sizeof der, ECC_TYPE, &key, &rng);
    if (sz < 0)
        goto out;
    sz = wc_SignCert_ex(cert.bodySz, cert.sigType, der, sizeof der, ECC_TYPE, &key, &rng);
    if (sz < 0)
        goto out;
    int psz = wc_DerToPem(der, (word32)sz, pem, sizeof pem, CERT_TYPE);
    ksz = wc_EccKeyToDer(&key, kder, sizeof kder);
    if (psz < 0 || ksz < 0)
        goto out;
    int kpsz = wc_DerToPem(kder, (word32)ksz, kpem, sizeof kpem, ECC_PRIVATEKEY_TYPE);
    if (kpsz < 0)
        goto out;
    if (write_file(key_path, kpem, (size_t)kpsz, 0600) != 0 ||
        write_file(cert_path, pem, (size_t)psz, 0644) != 0)
        goto out;
    rc = 0;
out:
    memset(kder, 0, sizeof kder);
    memset(kpem, 0, sizeof kpem);
    wc_ecc_free(&key);
    wc_FreeRng(&rng);
    return rc;
}

int tlscert_ensure(const char *state_dir, char *cert_path, size_t cert_len, char *key_path,
                   size_t key_len)
{
    if (snprintf(cert_path, cert_len, "%s/ui-tls.crt", state_dir) >= (int)cert_len ||
        snprintf(key_path, key_len, "%s/ui-tls.key", state_dir) >= (int)key_len) {
        pki_err("tls: state_dir path too long");
        return -1;
    }
    if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
        return 0;
    if (make_self_signed(cert_path, key_path) != 0) {
        pki_err("tls: cannot create a self-signed certificate in %s", state_dir);
        return -1;
    }
    pki_notice("tls: created a self-signed certificate for the local UI: %s", cert_path);
    return 0;
}
