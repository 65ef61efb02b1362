/* Test driver: builds certificates, CSRs, CRLs and OCSP responses with lib/x509 from the
 * command line, so the python tests can hand every artifact to openssl, certtool and
 * python3-cryptography. Keys are PEM files (any form pki_key_import reads).
 *
 *   x509_driver cert --key SIGNER.pem [--issuer CA.der] --pub SUBJECT.pem --subject /CN=x
 *               [--days N] [--ca] [--pathlen N] [--ku bits] [--eku purpose]... [--san t:v]...
 *               [--ocsp URL] [--ca-issuers URL] [--crl URL] [--policy OID[,CPS]]
 *               [--ocsp-nocheck] [--ct-poison] [--serial HEX] [--alg NAME] [--not-before T]
 *               [--not-after T] --out FILE
 *   x509_driver csr  --key KEY.pem --subject /CN=x [--san t:v]... [--alg NAME] --out FILE
 *   x509_driver crl  --key CA.pem --issuer CA.der [--revoke HEX[:reason[:invalidity]]]...
 *               [--random N] [--number N] [--idp URL] [--only-user] [--only-ca] --out FILE
 *   x509_driver ocsp --key RESPONDER.pem [--responder-cert R.der] --issuer CA.der
 *               (--serial HEX | --reqin REQUEST.der, parsed by lib/pkix and answered) --status
 * good|revoked|unknown [--reason N] [--nonce HEX-OCTETS]
 *               --out FILE
 *   x509_driver ocsp-error STATUS --out FILE
 * Times are seconds since the epoch; the clock is pki_now() (PKI_FAKE_NOW works). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "der/der_reader.h"
#include "keys/keys.h"
#include "pkix/pkix.h"
#include "signer/soft_signer.h"
#include "util/encoding.h"
#include "util/timefmt.h"
#include "x509/x509.h"

#define MAXN 64

static void die(const char *msg, const char *detail)
{
    fprintf(stderr, "x509_driver: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap + 1);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        die("out of memory", NULL);
    buf[n] = 0;
    *len = n;
    return buf;
}

static void write_file(const char *path, const uint8_t *der, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(der, 1, len, f) != len || fclose(f) != 0)
        die("cannot write", path);
}

static pki_signer *load_signer(const char *path)
{
    size_t len;
    uint8_t *pem = read_file(path, &len);
    char err[256];
    pki_signer *s = pki_soft_signer_from_pem((const char *)pem, len, NULL, err, sizeof err);
    free(pem);
    if (!s)
        die(err, path);
    return s;
}

static size_t hex_bytes(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        die("bad hex", hex);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            die("bad hex", hex);
        out[i] = (uint8_t)v;
    }
    return n / 2;
}

static pki_gn_type gn_type(const char *t)
{
    static const struct {
        const char *name;
        pki_gn_type type;
    } m[] = {{"dns", PKI_GN_DNS},
             {"ip", PKI_GN_IP},
             {"email", PKI_GN_EMAIL},
             {"uri", PKI_GN_URI},
             {"upn", PKI_GN_UPN}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcasecmp(t, m[i].name))
            return m[i].type;
    die("unknown SAN type", t);
    return PKI_GN_DNS;
}

static uint32_t ku_bits(const char *list)
{
    static const char *names[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                  "dataEncipherment", "keyAgreement",   "keyCertSign",
                                  "cRLSign",          "encipherOnly",   "decipherOnly"};
    uint32_t bits = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < 9 && strcmp(tok, names[i]); i++)
            ;
        if (i == 9)
            die("unknown key usage", tok);
        bits |= 1u << i;
    }
    free(copy);
    return bits;
}

typedef struct {
    const char *key, *issuer, *pub, *subject, *out, *alg, *idp, *serial, *nonce, *status;
    const char *responder_cert, *reqin;
    int ca, pathlen, days, ocsp_nocheck, ct_poison, only_user, only_ca, reason;
    long random_entries;
    uint64_t number;
    int64_t not_before, not_after;
    uint32_t ku;
    const char *eku[MAXN], *ocsp[MAXN], *ca_issuers[MAXN], *crl[MAXN], *revoke[MAXN];
    size_t n_eku, n_ocsp, n_ca_issuers, n_crl, n_revoke, n_san, n_policy;
    pki_general_name san[MAXN];
    pki_policy policy[MAXN];
} opts;

static void push(const char **arr, size_t *n, const char *v)
{
    if (*n >= MAXN)
        die("too many values", v);
    arr[(*n)++] = v;
}

static void parse(opts *o, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && (v || (die("missing value for", name), 0)) && ++i)
        if (OPT("--key"))
            o->key = v;
        else if (OPT("--issuer"))
            o->issuer = v;
        else if (OPT("--pub"))
            o->pub = v;
        else if (OPT("--subject"))
            o->subject = v;
        else if (OPT("--out"))
            o->out = v;
        else if (OPT("--alg"))
            o->alg = v;
        else if (OPT("--days"))
            o->days = atoi(v);
        else if (OPT("--pathlen"))
            o->pathlen = atoi(v);
        else if (OPT("--ku"))
            o->ku = ku_bits(v);
        else if (OPT("--eku"))
            push(o->eku, &o->n_eku, v);
        else if (OPT("--ocsp"))
            push(o->ocsp, &o->n_ocsp, v);
        else if (OPT("--ca-issuers"))
            push(o->ca_issuers, &o->n_ca_issuers, v);
        else if (OPT("--crl"))
            push(o->crl, &o->n_crl, v);
        else if (OPT("--revoke"))
            push(o->revoke, &o->n_revoke, v);
        else if (OPT("--random"))
            o->random_entries = atol(v);
        else if (OPT("--number"))
            o->number = strtoull(v, NULL, 10);
        else if (OPT("--idp"))
            o->idp = v;
        else if (OPT("--serial"))
            o->serial = v;
        else if (OPT("--nonce"))
            o->nonce = v;
        else if (OPT("--status"))
            o->status = v;
        else if (OPT("--reason"))
            o->reason = atoi(v);
        else if (OPT("--reqin"))
            o->reqin = v;
        else if (OPT("--responder-cert"))
            o->responder_cert = v;
        else if (OPT("--not-before"))
            o->not_before = atoll(v);
        else if (OPT("--not-after"))
            o->not_after = atoll(v);
        else if (OPT("--san")) {
            const char *c = strchr(v, ':');
            if (!c || o->n_san >= MAXN)
                die("--san wants type:value", v);
            char t[16];
            snprintf(t, sizeof t, "%.*s", (int)(c - v), v);
            o->san[o->n_san].type = gn_type(t);
            o->san[o->n_san++].value = c + 1;
        } else if (OPT("--policy")) {
            if (o->n_policy >= MAXN)
                die("too many policies", v);
            char *copy = strdup(v), *comma = strchr(copy, ',');
            if (comma)
                *comma = 0;
            o->policy[o->n_policy].oid = copy;
            o->policy[o->n_policy++].cps_uri = comma ? comma + 1 : NULL;
        } else if (!strcmp(a, "--ca"))
            o->ca = 1;
        else if (!strcmp(a, "--ocsp-nocheck"))
            o->ocsp_nocheck = 1;
        else if (!strcmp(a, "--ct-poison"))
            o->ct_poison = 1;
        else if (!strcmp(a, "--only-user"))
            o->only_user = 1;
        else if (!strcmp(a, "--only-ca"))
            o->only_ca = 1;
        else
            die("unknown option", a);
#undef OPT
    }
    if (!o->out)
        die("--out is required", NULL);
}

static pki_sig_alg alg_of(const opts *o)
{
    pki_sig_alg alg = 0;
    if (o->alg && pki_sig_alg_from_name(o->alg, &alg))
        die("unknown algorithm", o->alg);
    return alg;
}

static void load_issuer(const char *path, pki_issuer *is)
{
    size_t len;
    uint8_t *der = read_file(path, &len);
    char err[256];
    if (pki_issuer_from_cert(is, der, len, err, sizeof err))
        die(err, path);
    free(der);
}

static int cmd_cert(opts *o)
{
    if (!o->key || !o->subject)
        die("cert needs --key and --subject", NULL);
    pki_signer *signer = load_signer(o->key);
    pki_signer *subject_key = o->pub ? load_signer(o->pub) : NULL;
    pki_issuer issuer;
    if (o->issuer)
        load_issuer(o->issuer, &issuer);
    pki_cert_template t;
    pki_cert_template_init(&t);
    char err[256];
    if (pki_name_parse(&t.subject, o->subject, err, sizeof err))
        die(err, o->subject);
    int64_t now = pki_now();
    t.not_before = o->not_before ? o->not_before : now - 60;
    t.not_after =
        o->not_after ? o->not_after : t.not_before + (int64_t)(o->days ? o->days : 30) * 86400;
    const pki_signer *sk = subject_key ? subject_key : signer;
    t.spki = sk->spki;
    t.spki_len = sk->spki_len;
    t.sig_alg = alg_of(o);
    uint8_t serial[32];
    if (o->serial) {
        t.serial_len = hex_bytes(o->serial, serial, sizeof serial);
        t.serial = serial;
    }
    t.is_ca = o->ca;
    t.path_len = o->pathlen;
    t.key_usage = o->ku;
    t.eku = o->eku;
    t.eku_count = o->n_eku;
    t.san = o->san;
    t.san_count = o->n_san;
    t.ocsp_urls = o->ocsp;
    t.ocsp_url_count = o->n_ocsp;
    t.ca_issuer_urls = o->ca_issuers;
    t.ca_issuer_url_count = o->n_ca_issuers;
    t.crl_urls = o->crl;
    t.crl_url_count = o->n_crl;
    t.policies = o->policy;
    t.policy_count = o->n_policy;
    t.ocsp_nocheck = o->ocsp_nocheck;
    t.ct_poison = o->ct_poison;
    uint8_t *der;
    size_t len;
    int rc =
        pki_cert_build_sync(&t, o->issuer ? &issuer : NULL, signer, &der, &len, err, sizeof err);
    if (rc)
        die(err, NULL);
    write_file(o->out, der, len);
    free(der);
    if (o->issuer)
        pki_issuer_free(&issuer);
    pki_signer_free(subject_key);
    pki_signer_free(signer);
    return 0;
}

static int cmd_csr(opts *o)
{
    if (!o->key || !o->subject)
        die("csr needs --key and --subject", NULL);
    pki_signer *signer = load_signer(o->key);
    pki_name subject;
    char err[256];
    if (pki_name_parse(&subject, o->subject, err, sizeof err))
        die(err, o->subject);
    pki_exts exts;
    pki_exts_init(&exts);
    if (o->n_san)
        pki_exts_add_san(&exts, o->san, o->n_san, 0);
    if (o->ku)
        pki_exts_add_key_usage(&exts, o->ku);
    if (o->n_eku)
        pki_exts_add_eku(&exts, o->eku, o->n_eku);
    uint8_t *der;
    size_t len;
    if (pki_csr_build_sync(&subject, &exts, signer, alg_of(o), &der, &len, err, sizeof err))
        die(err, NULL);
    write_file(o->out, der, len);
    free(der);
    pki_exts_free(&exts);
    pki_signer_free(signer);
    return 0;
}

static int cmd_crl(opts *o)
{
    if (!o->key || !o->issuer)
        die("crl needs --key and --issuer", NULL);
    pki_signer *signer = load_signer(o->key);
    pki_issuer issuer;
    load_issuer(o->issuer, &issuer);
    size_t n = o->n_revoke + (size_t)(o->random_entries > 0 ? o->random_entries : 0);
    pki_crl_entry *e = calloc(n ? n : 1, sizeof *e);
    uint8_t *serials = calloc(n ? n : 1, 20);
    if (!e || !serials)
        die("out of memory", NULL);
    int64_t now = pki_now();
    for (size_t i = 0; i < n; i++) {
        uint8_t *s = serials + 20 * i;
        e[i].serial = s;
        e[i].revoked_at = now - 3600;
        e[i].reason = PKI_REASON_NONE;
        if (i < o->n_revoke) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", o->revoke[i]);
            char *reason = strchr(buf, ':');
            char *inval = reason ? strchr(reason + 1, ':') : NULL;
            if (reason)
                *reason++ = 0;
            if (inval)
                *inval++ = 0;
            e[i].serial_len = hex_bytes(buf, s, 20);
            if (reason && *reason)
                e[i].reason = atoi(reason);
            if (inval)
                e[i].invalidity_date = atoll(inval);
        } else {
            if (pki_serial_random(s))
                die("rng", NULL);
            e[i].serial_len = PKI_SERIAL_RANDOM_LEN;
            e[i].reason = (int)(i % 3 == 0 ? PKI_REASON_KEY_COMPROMISE : PKI_REASON_NONE);
        }
    }
    pki_crl_template t = {0};
    t.this_update = now - 60;
    t.next_update = now + 7 * 86400;
    t.crl_number = o->number;
    t.entries = e;
    t.count = n;
    t.idp_url = o->idp;
    t.idp_only_user_certs = o->only_user;
    t.idp_only_ca_certs = o->only_ca;
    t.sig_alg = alg_of(o);
    char err[256];
    uint8_t *der;
    size_t len;
    if (pki_crl_build_sync(&t, &issuer, signer, &der, &len, err, sizeof err))
        die(err, NULL);
    write_file(o->out, der, len);
    free(der);
    free(e);
    free(serials);
    pki_issuer_free(&issuer);
    pki_signer_free(signer);
    return 0;
}

/* The issuer's SPKI from its certificate: the element after the subject in the TBS. */
static void issuer_spki(const uint8_t *der, size_t len, const uint8_t **spki, size_t *spki_len)
{
    pki_der d, cert, tbs;
    pki_der_item it;
    pki_der_init(&d, der, len);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &cert, NULL) ||
        pki_der_enter_expect(&cert, PKI_DER_SEQUENCE, &tbs, NULL) ||
        pki_der_optional(&tbs, PKI_DER_CTX_CONS(0), &it) < 0)
        die("bad issuer certificate", NULL);
    for (int i = 0; i < 6; i++) /* serial, alg, issuer, validity, subject, spki */
        if (pki_der_next(&tbs, &it))
            die("bad issuer certificate", NULL);
    *spki = it.raw;
    *spki_len = it.raw_len;
}

static int cmd_ocsp(opts *o)
{
    if (!o->key || !o->issuer || !(o->serial || o->reqin) || !o->status)
        die("ocsp needs --key, --issuer, --serial or --reqin, and --status", NULL);
    pki_signer *signer = load_signer(o->key);
    size_t clen;
    uint8_t *ca = read_file(o->issuer, &clen);
    pki_issuer issuer;
    load_issuer(o->issuer, &issuer);
    const uint8_t *spki;
    size_t spki_len;
    issuer_spki(ca, clen, &spki, &spki_len);
    pki_ocsp_single r;
    memset(&r, 0, sizeof r);
    pki_ocsp_request *req = NULL;
    char err[256];
    if (o->reqin) { /* the responder path: lib/pkix parses, lib/x509 answers */
        size_t rlen;
        uint8_t *rder = read_file(o->reqin, &rlen);
        req = pki_ocsp_request_parse(rder, rlen, err, sizeof err);
        free(rder);
        if (!req || req->count < 1)
            die("OCSP request", err);
        r.id.der = req->ids[0].cert_id_der.p;
        r.id.der_len = req->ids[0].cert_id_der.len;
    } else {
        uint8_t serial[32];
        size_t serial_len = hex_bytes(o->serial, serial, sizeof serial);
        if (pki_ocsp_certid_sha1(&r.id, issuer.name_der, issuer.name_len, spki, spki_len, serial,
                                 serial_len))
            die("CertID failed", NULL);
    }
    int64_t now = pki_now();
    r.status = !strcmp(o->status, "good")      ? PKI_OCSP_GOOD
               : !strcmp(o->status, "revoked") ? PKI_OCSP_REVOKED
                                               : PKI_OCSP_UNKNOWN;
    r.revoked_at = now - 7200;
    r.reason = o->reason ? o->reason : PKI_REASON_NONE;
    r.this_update = now - 60;
    r.next_update = now + 3600;
    pki_ocsp_template t = {0};
    t.produced_at = now;
    t.responses = &r;
    t.count = 1;
    uint8_t nonce[128];
    if (o->nonce) {
        t.nonce_len = hex_bytes(o->nonce, nonce, sizeof nonce);
        t.nonce = nonce;
    } else if (req && req->has_nonce) {
        t.nonce = req->nonce.p;
        t.nonce_len = req->nonce.len;
    }
    uint8_t *rcert = NULL;
    if (o->responder_cert) {
        rcert = read_file(o->responder_cert, &t.responder_cert_len);
        t.responder_cert = rcert;
    }
    t.sig_alg = alg_of(o);
    uint8_t *der;
    size_t len;
    if (pki_ocsp_build_sync(&t, signer, &der, &len, err, sizeof err))
        die(err, NULL);
    write_file(o->out, der, len);
    free(der);
    free(rcert);
    pki_ocsp_request_free(req);
    free(ca);
    pki_issuer_free(&issuer);
    pki_signer_free(signer);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: x509_driver cert|csr|crl|ocsp|ocsp-error ...", NULL);
    opts o;
    memset(&o, 0, sizeof o);
    o.pathlen = -1;
    if (!strcmp(argv[1], "ocsp-error")) {
        if (argc != 5 || strcmp(argv[3], "--out"))
            die("usage: ocsp-error STATUS --out FILE", NULL);
        uint8_t *der;
        size_t len;
        if (pki_ocsp_error_response(atoi(argv[2]), &der, &len))
            die("bad status", argv[2]);
        write_file(argv[4], der, len);
        free(der);
        return 0;
    }
    parse(&o, argc - 2, argv + 2);
    int rc = -1;
    if (!strcmp(argv[1], "cert"))
        rc = cmd_cert(&o);
    else if (!strcmp(argv[1], "csr"))
        rc = cmd_csr(&o);
    else if (!strcmp(argv[1], "crl"))
        rc = cmd_crl(&o);
    else if (!strcmp(argv[1], "ocsp"))
        rc = cmd_ocsp(&o);
    for (size_t i = 0; i < o.n_policy; i++)
        free((char *)o.policy[i].oid);
    if (rc == 0)
        return 0;
    die("unknown command", argv[1]);
    return 1;
}
