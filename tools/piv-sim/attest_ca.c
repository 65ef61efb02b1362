/* Attestation CA and f9 provisioning (see attest_ca.h). Certificates are built with the
 * project's DER writer (lib/der) and signed with wolfCrypt. */
#include "attest_ca.h"

#include "crypto.h"

#include "der/der_writer.h"
#include "util/encoding.h"
#include "util/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_KEY_MAGIC "PIVSIMCA"
#define CA_CN "piv-sim Attestation CA"
#define YEARS_20 (20LL * 365 * 86400)

static void put_name(pki_der_writer *w, const char *cn)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_begin(w, PKI_DER_SET);
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, "2.5.4.3");
    pki_derw_string(w, PKI_DERW_STR_UTF8, cn, strlen(cn));
    pki_derw_end(w);
    pki_derw_end(w);
    pki_derw_end(w);
}

static void put_ext(pki_der_writer *w, const char *oid, int critical, const uint8_t *v, size_t l)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    pki_derw_oid(w, oid);
    if (critical) {
        pki_derw_bool(w, 1);
    }
    pki_derw_octet_string(w, v, l);
    pki_derw_end(w);
}

int cert_build(const struct cert_spec *spec, uint8_t signer_algo, const uint8_t *signer_der,
               size_t signer_len, struct buf *out)
{
    struct buf sig, alg;
    pki_der_writer w;
    buf_init(&sig, 0);
    buf_init(&alg, 0);
    /* The signature AlgorithmIdentifier is needed inside the TBS: sign an empty message first
     * only to learn it would cost a signature, so derive it from the algorithm instead. */
    if (algo_is_rsa(signer_algo)) {
        static const uint8_t rsa[] = {0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86,
                                      0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05, 0x00};
        buf_put(&alg, rsa, sizeof(rsa));
    } else {
        static const uint8_t ec[] = {0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86,
                                     0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
        buf_put(&alg, ec, sizeof(ec));
    }
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE); /* TBSCertificate */
    pki_derw_begin(&w, PKI_DER_CTX_CONS(0));
    pki_derw_int(&w, 2);
    pki_derw_end(&w);
    pki_derw_uint_be(&w, PKI_DER_INTEGER, spec->serial, spec->serial_len);
    pki_derw_raw(&w, alg.data, alg.len);
    if (spec->issuer_der) {
        pki_derw_raw(&w, spec->issuer_der, spec->issuer_der_len);
    } else {
        put_name(&w, spec->issuer_cn);
    }
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_time(&w, spec->not_before);
    pki_derw_time(&w, spec->not_after);
    pki_derw_end(&w);
    put_name(&w, spec->subject_cn);
    pki_derw_raw(&w, spec->spki, spec->spki_len);
    pki_derw_begin(&w, PKI_DER_CTX_CONS(3));
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    if (spec->is_ca) {
        static const uint8_t bc[] = {0x30, 0x03, 0x01, 0x01, 0xFF};
        static const uint8_t ku[] = {0x03, 0x02, 0x01, 0x06}; /* keyCertSign, cRLSign */
        put_ext(&w, "2.5.29.19", 1, bc, sizeof(bc));
        put_ext(&w, "2.5.29.15", 1, ku, sizeof(ku));
    }
    for (size_t i = 0; i < spec->n_exts; i++) {
        put_ext(&w, spec->exts[i].oid, spec->exts[i].critical, spec->exts[i].value,
                spec->exts[i].len);
    }
    pki_derw_end(&w);
    pki_derw_end(&w);
    pki_derw_end(&w); /* TBSCertificate */
    int rc = -1;
    size_t tbs_len;
    uint8_t *tbs = pki_derw_take(&w, &tbs_len);
    struct buf alg2;
    buf_init(&alg2, 0);
    if (tbs &&
        key_sign_sha256(signer_algo, signer_der, signer_len, tbs, tbs_len, &sig, &alg2) == 0) {
        pki_derw_init(&w);
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_raw(&w, tbs, tbs_len);
        pki_derw_raw(&w, alg.data, alg.len);
        pki_derw_bit_string(&w, sig.data, sig.len, 0);
        pki_derw_end(&w);
        size_t cl;
        uint8_t *cert = pki_derw_take(&w, &cl);
        if (cert) {
            buf_put(out, cert, cl);
            free(cert);
            rc = out->failed ? -1 : 0;
        }
    }
    free(tbs);
    pki_derw_free(&w);
    buf_free(&sig);
    buf_free(&alg);
    buf_free(&alg2);
    return rc;
}

static int write_pem(const char *path, const uint8_t *der, size_t len)
{
    char *b64 = pki_base64_encode(der, len);
    if (!b64) {
        return -1;
    }
    size_t tl = strlen(path) + 8;
    char *tmp = malloc(tl);
    FILE *f = NULL;
    int rc = -1;
    if (tmp) {
        snprintf(tmp, tl, "%s.tmp", path);
        f = fopen(tmp, "we");
    }
    if (f) {
        fputs("-----BEGIN CERTIFICATE-----\n", f);
        for (size_t i = 0, n = strlen(b64); i < n; i += 64) {
            fprintf(f, "%.*s\n", (int)(n - i < 64 ? n - i : 64), b64 + i);
        }
        fputs("-----END CERTIFICATE-----\n", f);
        rc = fclose(f) == 0 ? rename(tmp, path) : -1;
    }
    free(tmp);
    free(b64);
    return rc;
}

static int read_pem_cert(const char *path, uint8_t **der, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        return -1;
    }
    char line[256];
    struct buf b64;
    buf_init(&b64, 1 << 16);
    int in = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0) {
            in = 1;
        } else if (strncmp(line, "-----END CERTIFICATE-----", 25) == 0) {
            break;
        } else if (in) {
            buf_put(&b64, line, strlen(line));
        }
    }
    fclose(f);
    int rc = b64.failed || b64.len == 0
                 ? -1
                 : pki_base64_decode((const char *)b64.data, b64.len, der, len);
    buf_free(&b64);
    return rc == 0 ? 0 : -1;
}

static void random_serial(uint8_t s[16])
{
    if (crypto_random(s, 16) != 0) {
        memset(s, 0x5A, 16);
    }
    s[0] &= 0x7F;
    s[0] |= 0x01;
}

static int create_ca(struct attest_ca *ca, const char *pem_path, const char *key_path)
{
    struct buf key, spki, cert;
    buf_init(&key, 0);
    buf_init(&spki, 0);
    buf_init(&cert, 0);
    int rc = -1;
    uint8_t serial[16];
    random_serial(serial);
    int64_t now = pki_now();
    struct cert_spec spec = {
        .subject_cn = CA_CN,
        .issuer_cn = CA_CN,
        .serial = serial,
        .serial_len = sizeof(serial),
        .not_before = now - 60,
        .not_after = now + YEARS_20,
        .is_ca = 1,
    };
    if (key_generate(ALGO_ECCP256, &key) == 0 &&
        key_public_spki(ALGO_ECCP256, key.data, key.len, &spki) == 0) {
        spec.spki = spki.data;
        spec.spki_len = spki.len;
        if (cert_build(&spec, ALGO_ECCP256, key.data, key.len, &cert) == 0 &&
            sealed_write(key_path, CA_KEY_MAGIC, key.data, key.len) == 0 &&
            write_pem(pem_path, cert.data, cert.len) == 0) {
            rc = 0;
        }
    }
    buf_free_secret(&key);
    buf_free(&spki);
    buf_free(&cert);
    return rc;
}

int attest_ca_open(struct attest_ca *ca, const char *dir, char *err, size_t errlen)
{
    memset(ca, 0, sizeof(*ca));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char pem[4096], key[4096], lock[4096];
    snprintf(pem, sizeof(pem), "%s/attestation-ca.pem", dir);
    snprintf(key, sizeof(key), "%s/ca-key.sealed", dir);
    snprintf(lock, sizeof(lock), "%s/.lock", dir);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
        snprintf(err, errlen, "%s: %s", lock, strerror(errno));
        if (lfd >= 0) {
            close(lfd);
        }
        return -1;
    }
    int rc = -1;
    if (access(pem, F_OK) != 0 && create_ca(ca, pem, key) != 0) {
        snprintf(err, errlen, "%s: cannot create the attestation CA", dir);
    } else if (read_pem_cert(pem, &ca->cert_der, &ca->cert_len) != 0) {
        snprintf(err, errlen, "%s: not a PEM certificate", pem);
    } else if (sealed_read(key, CA_KEY_MAGIC, &ca->key_der, &ca->key_len, err, errlen) != 0) {
        /* err set */
    } else {
        rc = 0;
    }
    close(lfd);
    if (rc != 0) {
        attest_ca_free(ca);
    }
    return rc;
}

void attest_ca_free(struct attest_ca *ca)
{
    free(ca->cert_der);
    if (ca->key_der) {
        crypto_wipe(ca->key_der, ca->key_len);
        free(ca->key_der);
    }
    memset(ca, 0, sizeof(*ca));
}

int attest_ca_provision(struct attest_ca *ca, struct sim_state *st, char *err, size_t errlen)
{
    if (st->keys[0xF9].algo && state_get_object(st, 0x5FFF01)) {
        return 0;
    }
    struct buf key, spki, cert, obj;
    buf_init(&key, 0);
    buf_init(&spki, 0);
    buf_init(&cert, 0);
    buf_init(&obj, 0);
    uint8_t serial[16];
    random_serial(serial);
    int64_t now = pki_now();
    struct cert_spec spec = {
        .subject_cn = ATTEST_F9_CN,
        .issuer_cn = CA_CN,
        .serial = serial,
        .serial_len = sizeof(serial),
        .not_before = now - 60,
        .not_after = now + YEARS_20,
        .is_ca = 1, /* it issues the attestation certificates */
    };
    int rc = -1;
    if (key_generate(ALGO_ECCP256, &key) == 0 &&
        key_public_spki(ALGO_ECCP256, key.data, key.len, &spki) == 0) {
        spec.spki = spki.data;
        spec.spki_len = spki.len;
        if (cert_build(&spec, ALGO_ECCP256, ca->key_der, ca->key_len, &cert) == 0) {
            /* Stored as libykpiv stores certificates: 70 cert, 71 compression, FE LRC. */
            static const uint8_t trailer[] = {0x71, 0x01, 0x00, 0xFE, 0x00};
            buf_put_tlv(&obj, 0x70, cert.data, cert.len);
            buf_put(&obj, trailer, sizeof(trailer));
            uint8_t *d = key.data;
            size_t dl = key.len;
            key.data = NULL;
            key.len = key.cap = 0;
            state_set_key(st, 0xF9, ALGO_ECCP256, PIN_NEVER, TOUCH_NEVER, ORIGIN_GENERATED, d, dl);
            if (!obj.failed && state_put_object(st, 0x5FFF01, obj.data, obj.len) == 0 &&
                state_save(st) == 0) {
                rc = 0;
            }
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot provision the attestation key");
    }
    buf_free_secret(&key);
    buf_free(&spki);
    buf_free(&cert);
    buf_free(&obj);
    return rc;
}
