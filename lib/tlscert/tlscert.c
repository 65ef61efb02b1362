#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "tlscert/tlscert.h"

/* Atomic write: temporary file, fsync, rename. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const unsigned char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
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

static int make_pair(const pki_tlscert_subject *subject, const char *cert_path,
                     const char *key_path)
{
    WC_RNG rng;
    ecc_key key;
    Cert cert;
    static byte der[4096], pem[6144], kder[512], kpem[1024];
    int rc = -1;
    if (wc_InitRng(&rng) != 0)
        return -1;
    if (wc_ecc_init(&key) != 0) {
        wc_FreeRng(&rng);
        return -1;
    }
    if (wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1) != 0 || wc_InitCert(&cert) != 0)
        goto out;
    snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%s", subject->common_name);
    snprintf(cert.subject.org, CTC_NAME_SIZE, "%s", subject->organization);
    cert.daysValid = subject->days_valid;
    cert.sigType = CTC_SHA256wECDSA;
    int sz = wc_MakeCert_ex(&cert, der, sizeof der, ECC_TYPE, &key, &rng);
    if (sz < 0)
        goto out;
    sz = wc_SignCert_ex(cert.bodySz, cert.sigType, der, sizeof der, ECC_TYPE, &key, &rng);
    if (sz < 0)
        goto out;
    int psz = wc_DerToPem(der, (word32)sz, pem, sizeof pem, CERT_TYPE);
    int ksz = wc_EccKeyToDer(&key, kder, sizeof kder);
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

int pki_tlscert_ensure(const char *dir, const char *name, const pki_tlscert_subject *subject,
                       char *cert_path, size_t cert_len, char *key_path, size_t key_len)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pki_err("%s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    if (snprintf(cert_path, cert_len, "%s/%s.crt", dir, name) >= (int)cert_len ||
        snprintf(key_path, key_len, "%s/%s.key", dir, name) >= (int)key_len) {
        pki_err("%s: path too long for the HTTPS certificate", dir);
        return -1;
    }
    if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
        return 0;
    if (make_pair(subject, cert_path, key_path) != 0) {
        pki_err("%s: cannot make a self-signed HTTPS certificate", dir);
        return -1;
    }
    pki_notice("made a self-signed HTTPS certificate: %s", cert_path);
    return 0;
}
