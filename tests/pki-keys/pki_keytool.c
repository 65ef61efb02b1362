/* A small command-line front end to lib/keys, lib/signer and lib/pkix for the integration
 * tests, so python can drive the library against openssl and python3-cryptography.
 * Passwords come from the environment (PKI_KEY_PASSWORD), never from argv.
 *
 *   gen TYPE BITS OUT          new key as PKCS#8 PEM (encrypted when PKI_KEY_PASSWORD is set)
 *   import IN OUT              any key form in, PKCS#8 PEM out; prints "TYPE BITS"
 *   spki KEY OUT               SubjectPublicKeyInfo DER
 *   sign KEY ALG IN OUT        signature over the file IN
 *   verify SPKI ALG IN SIG     exit 0 when the signature verifies
 *   algid ALG OUT              AlgorithmIdentifier DER
 *   cert|csr|crl|ocsp|tbs IN [ISSUER_CERT]   parse; JSON on stdout; error text on stderr,
 *                                            exit 1 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "pkix/pkix.h"
#include "signer/soft_signer.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        exit(2);
    *len = n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(2);
    }
}

static pki_key *load_key(const char *path)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    char err[256];
    pki_key *k = pki_key_import(data, len, getenv("PKI_KEY_PASSWORD"), err, sizeof err);
    pki_secret_free(data, len);
    if (!k) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return k;
}

static int write_key(pki_key *k, const char *out)
{
    const char *pw = getenv("PKI_KEY_PASSWORD");
    char *pem;
    size_t len;
    int rc = pw ? pki_key_to_encrypted_pkcs8_pem(k, pw, &pem, &len)
                : pki_key_to_pkcs8_pem(k, &pem, &len);
    if (rc != 0) {
        fprintf(stderr, "export failed\n");
        return 1;
    }
    spit(out, pem, len);
    pki_secret_free(pem, len);
    return 0;
}

static json_t *hexj(pki_span s)
{
    char *h = pki_span_hex(s);
    json_t *j = json_string(h ? h : "");
    free(h);
    return j;
}

static json_t *ext_json(const pki_extensions *e)
{
    json_t *o = json_object(), *list = json_array(), *san = json_array(), *eku = json_array();
    for (size_t i = 0; i < e->count; i++)
        json_array_append_new(
            list, json_pack("{s:s,s:b}", "oid", e->items[i].oid, "critical", e->items[i].critical));
    for (size_t i = 0; i < e->n_san; i++)
        json_array_append_new(
            san, json_pack("{s:i,s:s}", "type", (int)e->san[i].type, "value", e->san[i].text));
    for (size_t i = 0; i < e->n_eku; i++)
        json_array_append_new(eku, json_string(e->eku[i]));
    json_object_set_new(o, "list", list);
    json_object_set_new(o, "san", san);
    json_object_set_new(o, "eku", eku);
    if (e->has_basic_constraints)
        json_object_set_new(o, "bc",
                            json_pack("{s:b,s:i}", "ca", e->is_ca, "path_len", e->path_len));
    if (e->has_key_usage)
        json_object_set_new(o, "key_usage", json_integer(e->key_usage));
    if (e->ski.p)
        json_object_set_new(o, "ski", hexj(e->ski));
    if (e->aki_key_id.p)
        json_object_set_new(o, "aki", hexj(e->aki_key_id));
    return o;
}

static pki_cert *load_cert(const char *path)
{
    size_t len;
    uint8_t *data = slurp(path, &len);
    char err[256];
    pki_cert *c = pki_cert_parse(data, len, err, sizeof err);
    free(data);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return c;
}

static int emit(json_t *j)
{
    char *s = json_dumps(j, JSON_SORT_KEYS);
    puts(s);
    free(s);
    json_decref(j);
    return 0;
}

static int cmd_parse(const char *what, const char *in, const char *issuer_path)
{
    size_t len;
    uint8_t *data = slurp(in, &len);
    char err[256] = "";
    pki_cert *issuer = issuer_path ? load_cert(issuer_path) : NULL;
    json_t *j = NULL;
    if (strcmp(what, "cert") == 0) {
        pki_cert *c = pki_cert_parse(data, len, err, sizeof err);
        if (c) {
            j = json_pack("{s:s,s:s,s:o,s:i,s:I,s:I,s:s,s:s,s:i,s:o}", "subject", c->subject,
                          "issuer", c->issuer, "serial", hexj(c->serial), "version", c->version,
                          "not_before", (json_int_t)c->not_before, "not_after",
                          (json_int_t)c->not_after, "sig_alg", pki_sig_alg_name(c->sig_alg),
                          "key_type", pki_key_type_name(c->key_type), "rsa_bits", c->rsa_bits,
                          "ext", ext_json(&c->ext));
            if (issuer)
                json_object_set_new(
                    j, "verified",
                    json_boolean(pki_cert_verify(c, issuer->spki.p, issuer->spki.len) == 0));
            pki_cert_free(c);
        }
    } else if (strcmp(what, "csr") == 0) {
        pki_csr *c = pki_csr_parse(data, len, err, sizeof err);
        if (c) {
            j = json_pack("{s:s,s:s,s:s,s:i,s:o,s:b}", "subject", c->subject, "sig_alg",
                          pki_sig_alg_name(c->sig_alg), "key_type", pki_key_type_name(c->key_type),
                          "rsa_bits", c->rsa_bits, "ext", ext_json(&c->ext), "has_challenge",
                          c->challenge != NULL);
            pki_csr_free(c);
        }
    } else if (strcmp(what, "crl") == 0) {
        pki_crl *c = pki_crl_parse(data, len, err, sizeof err);
        if (c) {
            json_t *entries = json_array();
            for (size_t i = 0; i < c->count; i++)
                json_array_append_new(
                    entries, json_pack("{s:o,s:I,s:i,s:I}", "serial", hexj(c->entries[i].serial),
                                       "date", (json_int_t)c->entries[i].revocation_date, "reason",
                                       c->entries[i].reason, "invalidity",
                                       (json_int_t)c->entries[i].invalidity_date));
            j = json_pack("{s:s,s:i,s:I,s:I,s:s,s:o,s:o}", "issuer", c->issuer, "version",
                          c->version, "this_update", (json_int_t)c->this_update, "next_update",
                          (json_int_t)c->next_update, "sig_alg", pki_sig_alg_name(c->sig_alg),
                          "entries", entries, "ext", ext_json(&c->ext));
            if (c->has_crl_number)
                json_object_set_new(j, "crl_number", hexj(c->crl_number));
            if (issuer)
                json_object_set_new(
                    j, "verified",
                    json_boolean(pki_crl_verify(c, issuer->spki.p, issuer->spki.len) == 0));
            pki_crl_free(c);
        }
    } else if (strcmp(what, "tbs") == 0) {
        pki_tbs_info t;
        if (pki_tbs_inspect(data, len, &t, err, sizeof err) == 0) {
            j = json_pack(
                "{s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:b,s:i}", "kind", pki_tbs_kind_name(t.kind),
                "sig_alg", t.sig_alg ? pki_sig_alg_name(t.sig_alg) : "", "issuer",
                hexj(t.issuer_der), "subject", hexj(t.subject_der), "serial", hexj(t.serial),
                "spki", hexj(t.spki), "not_before", (json_int_t)t.not_before, "not_after",
                (json_int_t)t.not_after, "is_ca", t.is_ca, "ocsp_responses", (int)t.ocsp_responses);
            json_object_set_new(j, "responder_name", hexj(t.responder_name_der));
            json_object_set_new(j, "responder_key_hash", hexj(t.responder_key_hash));
        }
    } else if (strcmp(what, "ocsp") == 0) {
        pki_ocsp_request *r = pki_ocsp_request_parse(data, len, err, sizeof err);
        if (r) {
            json_t *ids = json_array();
            for (size_t i = 0; i < r->count; i++)
                json_array_append_new(ids,
                                      json_pack("{s:i,s:o,s:o,s:o}", "hash", (int)r->ids[i].hash,
                                                "name_hash", hexj(r->ids[i].issuer_name_hash),
                                                "key_hash", hexj(r->ids[i].issuer_key_hash),
                                                "serial", hexj(r->ids[i].serial)));
            j = json_pack("{s:o,s:b,s:b}", "ids", ids, "signed", r->is_signed, "has_nonce",
                          r->has_nonce);
            if (r->has_nonce)
                json_object_set_new(j, "nonce", hexj(r->nonce));
            pki_ocsp_request_free(r);
        }
    }
    free(data);
    pki_cert_free(issuer);
    if (!j) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return emit(j);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of pki_keytool.c\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "gen") == 0 && argc == 5) {
        pki_key_type t;
        char err[256];
        if (pki_key_type_from_name(argv[2], &t) != 0)
            return 2;
        pki_key *k = pki_key_generate(t, (unsigned)atoi(argv[3]), err, sizeof err);
        if (!k) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        int rc = write_key(k, argv[4]);
        pki_key_free(k);
        return rc;
    }
    if (strcmp(cmd, "import") == 0 && argc == 4) {
        pki_key *k = load_key(argv[2]);
        printf("%s %u\n", pki_key_type_name(pki_key_get_type(k)), pki_key_rsa_bits(k));
        unsetenv("PKI_KEY_PASSWORD"); /* write it back in the clear */
        int rc = write_key(k, argv[3]);
        pki_key_free(k);
        return rc;
    }
    if (strcmp(cmd, "spki") == 0 && argc == 4) {
        pki_key *k = load_key(argv[2]);
        size_t len;
        const uint8_t *spki = pki_key_spki(k, &len);
        spit(argv[3], spki, len);
        pki_key_free(k);
        return 0;
    }
    if (strcmp(cmd, "sign") == 0 && argc == 6) {
        pki_sig_alg alg;
        if (pki_sig_alg_from_name(argv[3], &alg) != 0)
            return 2;
        pki_signer *s = pki_soft_signer_new(load_key(argv[2]));
        size_t len, sig_len;
        uint8_t *msg = slurp(argv[4], &len), *sig;
        int rc = pki_signer_sign_sync(s, alg, msg, len, 1000, &sig, &sig_len);
        free(msg);
        pki_signer_free(s);
        if (rc != 0) {
            fprintf(stderr, "%s\n", pki_sign_status_text(rc));
            return 1;
        }
        spit(argv[5], sig, sig_len);
        free(sig);
        return 0;
    }
    if (strcmp(cmd, "verify") == 0 && argc == 6) {
        pki_sig_alg alg;
        if (pki_sig_alg_from_name(argv[3], &alg) != 0)
            return 2;
        size_t sl, ml, gl;
        uint8_t *spki = slurp(argv[2], &sl), *msg = slurp(argv[4], &ml), *sig = slurp(argv[5], &gl);
        int rc = pki_spki_verify(spki, sl, alg, msg, ml, sig, gl);
        free(spki);
        free(msg);
        free(sig);
        if (rc != 0)
            fprintf(stderr, "%s\n", pki_sign_status_text(rc));
        return rc == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "algid") == 0 && argc == 4) {
        pki_sig_alg alg;
        uint8_t buf[128];
        if (pki_sig_alg_from_name(argv[2], &alg) != 0)
            return 2;
        int n = pki_sig_alg_der(alg, buf, sizeof buf);
        spit(argv[3], buf, (size_t)n);
        return 0;
    }
    if ((strcmp(cmd, "cert") == 0 || strcmp(cmd, "csr") == 0 || strcmp(cmd, "crl") == 0 ||
         strcmp(cmd, "ocsp") == 0 || strcmp(cmd, "tbs") == 0) &&
        (argc == 3 || argc == 4))
        return cmd_parse(cmd, argv[2], argc == 4 ? argv[3] : NULL);
    fprintf(stderr, "bad command\n");
    return 2;
}
