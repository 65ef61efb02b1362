/* Extensions (RFC 5280 4.2) and general names. Each adder encodes its extnValue at once into an
 * owned buffer, so a pki_exts is plain data the builders copy into any TBS. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "der/der_reader.h"
#include "x509/x509.h"
#include "x509/x509_impl.h"

#define OID_UPN "1.3.6.1.4.1.311.20.2.3"

static int fail(pki_exts *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pki_exts *e, const char *fmt, ...)
{
    if (e && !e->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->err, sizeof e->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int gn_err(char *err, size_t errlen, const char *what, const char *value)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: '%s'", what, value ? value : "(null)");
    return -1;
}

/* LDH labels of 1..63 octets, 253 in all, no leading/trailing hyphen; "*." allowed only as the
 * whole first label (wildcard certificates). */
static int dns_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253 || s[len - 1] == '.')
        return 0;
    if (s[0] == '*') {
        if (s[1] != '.')
            return 0;
        s += 2;
    }
    size_t label = 0;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-' || *(p - label) == '-')
                return 0;
            if (*p == '\0')
                return 1;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
        label++;
    }
}

static int ip_parse(const char *s, uint8_t out[16], size_t *len)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *len = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *len = 16;
        return 0;
    }
    return -1;
}

int pki_general_name_check(const pki_general_name *gn, char *err, size_t errlen)
{
    const char *v = gn ? gn->value : NULL;
    if (!v || !*v)
        return gn_err(err, errlen, "empty subjectAltName entry", "");
    uint8_t ip[16];
    size_t iplen;
    const char *at;
    switch (gn->type) {
    case PKI_GN_DNS:
        return dns_ok(v) ? 0 : gn_err(err, errlen, "malformed DNS name", v);
    case PKI_GN_IP:
        return ip_parse(v, ip, &iplen) ? gn_err(err, errlen, "malformed IP address", v) : 0;
    case PKI_GN_EMAIL:
        at = strchr(v, '@');
        if (!at || at == v || !pki_derw_is_ia5(v, strlen(v)) || !dns_ok(at + 1) || at[1] == '*')
            return gn_err(err, errlen, "malformed email address", v);
        return 0;
    case PKI_GN_URI: {
        const char *c = strchr(v, ':');
        if (!c || c == v || !pki_derw_is_ia5(v, strlen(v)) || strpbrk(v, " \t\r\n"))
            return gn_err(err, errlen, "malformed URI", v);
        for (const char *p = v; p < c; p++)
            if (!isalnum((unsigned char)*p) && !strchr("+-.", *p))
                return gn_err(err, errlen, "malformed URI", v);
        return 0;
    }
    case PKI_GN_UPN:
        at = strchr(v, '@');
        if (!at || at == v || !at[1] || !pki_derw_is_utf8(v, strlen(v)))
            return gn_err(err, errlen, "malformed UPN", v);
        return 0;
    }
    return gn_err(err, errlen, "unknown subjectAltName type", v);
}

/* One GeneralName; the caller has checked it. */
static void write_gn(pki_der_writer *w, const pki_general_name *gn)
{
    size_t len = strlen(gn->value);
    uint8_t ip[16];
    size_t iplen = 0;
    switch (gn->type) {
    case PKI_GN_DNS:
        pki_derw_tlv(w, PKI_DER_CTX(2), (const uint8_t *)gn->value, len);
        break;
    case PKI_GN_EMAIL:
        pki_derw_tlv(w, PKI_DER_CTX(1), (const uint8_t *)gn->value, len);
        break;
    case PKI_GN_URI:
        pki_derw_tlv(w, PKI_DER_CTX(6), (const uint8_t *)gn->value, len);
        break;
    case PKI_GN_IP:
        if (ip_parse(gn->value, ip, &iplen) == 0)
            pki_derw_tlv(w, PKI_DER_CTX(7), ip, iplen);
        break;
    case PKI_GN_UPN: /* otherName [0] { type-id, [0] EXPLICIT UTF8String } */
        pki_derw_begin(w, PKI_DER_CTX_CONS(0));
        pki_derw_oid(w, OID_UPN);
        pki_derw_begin(w, PKI_DER_CTX_CONS(0));
        pki_derw_string(w, PKI_DERW_STR_UTF8, gn->value, len);
        pki_derw_end(w);
        pki_derw_end(w);
        break;
    }
}

void pki_exts_init(pki_exts *e)
{
    memset(e, 0, sizeof *e);
}

void pki_exts_free(pki_exts *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->count; i++)
        free(e->v[i].value);
    free(e->v);
    memset(e, 0, sizeof *e);
}

const char *pki_exts_error(const pki_exts *e)
{
    return e->err[0] ? e->err : NULL;
}

const pki_ext *pki_exts_find(const pki_exts *e, const char *oid)
{
    for (size_t i = 0; e && i < e->count; i++)
        if (!strcmp(e->v[i].oid, oid))
            return &e->v[i];
    return NULL;
}

/* Takes ownership of value (freed on failure too). */
static int add_owned(pki_exts *e, const char *oid, int critical, uint8_t *value, size_t len)
{
    uint8_t tmp[64];
    if (!value)
        return fail(e, "extension %s: encoding failed", oid);
    if (pki_derw_oid_encode(oid, tmp, sizeof tmp) < 0 || strlen(oid) >= sizeof e->v[0].oid) {
        free(value);
        return fail(e, "extension: bad OID '%s'", oid);
    }
    if (pki_exts_find(e, oid)) {
        free(value);
        return fail(e, "extension %s given twice", oid);
    }
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        pki_ext *nv = realloc(e->v, cap * sizeof *nv);
        if (!nv) {
            free(value);
            return fail(e, "extension %s: out of memory", oid);
        }
        e->v = nv;
        e->cap = cap;
    }
    pki_ext *x = &e->v[e->count++];
    snprintf(x->oid, sizeof x->oid, "%s", oid);
    x->critical = critical != 0;
    x->value = value;
    x->len = len;
    return 0;
}

static int add_writer(pki_exts *e, const char *oid, int critical, pki_der_writer *w)
{
    size_t len;
    uint8_t *v = pki_derw_take(w, &len);
    return add_owned(e, oid, critical, v, len);
}

int pki_exts_add(pki_exts *e, const char *oid, int critical, const uint8_t *value, size_t len)
{
    if (!oid || (len && !value))
        return fail(e, "extension: missing OID or value");
    /* The value must be one DER element, as every extnValue is. */
    pki_der_item it;
    if (pki_der_single(value, len, &it) != 0)
        return fail(e, "extension %s: value is not a single DER element", oid);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return fail(e, "extension %s: out of memory", oid);
    memcpy(copy, value, len);
    return add_owned(e, oid, critical, copy, len);
}

int pki_exts_add_san(pki_exts *e, const pki_general_name *names, size_t count, int critical)
{
    char err[128];
    if (count == 0)
        return fail(e, "subjectAltName: no names");
    for (size_t i = 0; i < count; i++)
        if (pki_general_name_check(&names[i], err, sizeof err))
            return fail(e, "subjectAltName: %s", err);
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < count; i++)
        write_gn(&w, &names[i]);
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.17", critical, &w);
}

int pki_exts_add_basic_constraints(pki_exts *e, int ca, int path_len)
{
    if (path_len >= 0 && !ca)
        return fail(e, "basicConstraints: pathLenConstraint needs cA");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    if (ca)
        pki_derw_bool(&w, 1); /* DEFAULT FALSE is omitted in DER */
    if (ca && path_len >= 0)
        pki_derw_int(&w, path_len);
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.19", ca, &w);
}

int pki_exts_add_key_usage(pki_exts *e, uint32_t bits)
{
    if (bits == 0 || bits >= (1u << 9))
        return fail(e, "keyUsage: no valid bits");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_named_bits(&w, PKI_DER_BIT_STRING, bits);
    return add_writer(e, "2.5.29.15", 1, &w);
}

static const struct {
    const char *name, *oid;
} EKUS[] = {
    {"serverAuth", "1.3.6.1.5.5.7.3.1"},          {"clientAuth", "1.3.6.1.5.5.7.3.2"},
    {"codeSigning", "1.3.6.1.5.5.7.3.3"},         {"emailProtection", "1.3.6.1.5.5.7.3.4"},
    {"timeStamping", "1.3.6.1.5.5.7.3.8"},        {"OCSPSigning", "1.3.6.1.5.5.7.3.9"},
    {"smartcardLogon", "1.3.6.1.4.1.311.20.2.2"}, {"anyExtendedKeyUsage", "2.5.29.37.0"},
};

static const char *eku_oid(const char *name)
{
    for (size_t i = 0; i < sizeof EKUS / sizeof EKUS[0]; i++)
        if (!strcmp(name, EKUS[i].name))
            return EKUS[i].oid;
    return name;
}

int pki_exts_add_eku(pki_exts *e, const char *const *purposes, size_t count)
{
    if (count == 0)
        return fail(e, "extendedKeyUsage: no purposes");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < count; i++) {
        const char *oid = eku_oid(purposes[i]);
        uint8_t tmp[64];
        if (pki_derw_oid_encode(oid, tmp, sizeof tmp) < 0) {
            pki_derw_free(&w);
            return fail(e, "extendedKeyUsage: unknown purpose '%s'", purposes[i]);
        }
        pki_derw_oid(&w, oid);
    }
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.37", 0, &w);
}

int pki_exts_add_ski(pki_exts *e, const uint8_t *id, size_t len)
{
    if (!id || len == 0)
        return fail(e, "subjectKeyIdentifier: empty");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_octet_string(&w, id, len);
    return add_writer(e, "2.5.29.14", 0, &w);
}

int pki_exts_add_aki(pki_exts *e, const uint8_t *id, size_t len)
{
    if (!id || len == 0)
        return fail(e, "authorityKeyIdentifier: empty");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    pki_derw_tlv(&w, PKI_DER_CTX(0), id, len);
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.35", 0, &w);
}

static int check_uris(pki_exts *e, const char *what, const char *const *urls, size_t n)
{
    char err[128];
    for (size_t i = 0; i < n; i++) {
        pki_general_name gn = {PKI_GN_URI, urls[i]};
        if (pki_general_name_check(&gn, err, sizeof err)) {
            char msg[160];
            snprintf(msg, sizeof msg, "%s: %s", what, err);
            return fail(e, "%s", msg);
        }
    }
    return 0;
}

static void access_descriptions(pki_der_writer *w, const char *method, const char *const *urls,
                                size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        pki_derw_oid(w, method);
        pki_derw_tlv(w, PKI_DER_CTX(6), (const uint8_t *)urls[i], strlen(urls[i]));
        pki_derw_end(w);
    }
}

int pki_exts_add_aia(pki_exts *e, const char *const *ocsp, size_t n_ocsp,
                     const char *const *ca_issuers, size_t n_ca_issuers)
{
    if (n_ocsp + n_ca_issuers == 0)
        return fail(e, "authorityInfoAccess: no locations");
    if (check_uris(e, "authorityInfoAccess", ocsp, n_ocsp) ||
        check_uris(e, "authorityInfoAccess", ca_issuers, n_ca_issuers))
        return -1;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    access_descriptions(&w, "1.3.6.1.5.5.7.48.1", ocsp, n_ocsp);
    access_descriptions(&w, "1.3.6.1.5.5.7.48.2", ca_issuers, n_ca_issuers);
    pki_derw_end(&w);
    return add_writer(e, "1.3.6.1.5.5.7.1.1", 0, &w);
}

/* DistributionPointName fullName: [0] { [0] { URI … } } (both IMPLICIT over constructed). */
void pki_x509_write_dp_name(pki_der_writer *w, const char *const *urls, size_t n)
{
    pki_derw_begin(w, PKI_DER_CTX_CONS(0));
    pki_derw_begin(w, PKI_DER_CTX_CONS(0));
    for (size_t i = 0; i < n; i++)
        pki_derw_tlv(w, PKI_DER_CTX(6), (const uint8_t *)urls[i], strlen(urls[i]));
    pki_derw_end(w);
    pki_derw_end(w);
}

int pki_exts_add_crl_dp(pki_exts *e, const char *const *urls, size_t count)
{
    if (count == 0)
        return fail(e, "cRLDistributionPoints: no URLs");
    if (check_uris(e, "cRLDistributionPoints", urls, count))
        return -1;
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < count; i++) { /* one DistributionPoint per URL */
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_x509_write_dp_name(&w, &urls[i], 1);
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.31", 0, &w);
}

int pki_exts_add_policies(pki_exts *e, const pki_policy *p, size_t count)
{
    if (count == 0)
        return fail(e, "certificatePolicies: no policies");
    pki_der_writer w;
    pki_derw_init(&w);
    pki_derw_begin(&w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < count; i++) {
        uint8_t tmp[64];
        if (!p[i].oid || pki_derw_oid_encode(p[i].oid, tmp, sizeof tmp) < 0) {
            pki_derw_free(&w);
            return fail(e, "certificatePolicies: bad policy OID '%s'", p[i].oid);
        }
        if (p[i].cps_uri && check_uris(e, "certificatePolicies CPS", &p[i].cps_uri, 1)) {
            pki_derw_free(&w);
            return -1;
        }
        pki_derw_begin(&w, PKI_DER_SEQUENCE);
        pki_derw_oid(&w, p[i].oid);
        if (p[i].cps_uri) {
            pki_derw_begin(&w, PKI_DER_SEQUENCE);
            pki_derw_begin(&w, PKI_DER_SEQUENCE);
            pki_derw_oid(&w, "1.3.6.1.5.5.7.2.1"); /* id-qt-cps */
            pki_derw_string(&w, PKI_DERW_STR_IA5, p[i].cps_uri, strlen(p[i].cps_uri));
            pki_derw_end(&w);
            pki_derw_end(&w);
        }
        pki_derw_end(&w);
    }
    pki_derw_end(&w);
    return add_writer(e, "2.5.29.32", 0, &w);
}

static int add_null(pki_exts *e, const char *oid, int critical)
{
    static const uint8_t null_der[] = {0x05, 0x00};
    return pki_exts_add(e, oid, critical, null_der, sizeof null_der);
}

int pki_exts_add_ocsp_nocheck(pki_exts *e)
{
    return add_null(e, "1.3.6.1.5.5.7.48.1.5", 0);
}

int pki_exts_add_ct_poison(pki_exts *e)
{
    return add_null(e, "1.3.6.1.4.1.11129.2.4.3", 1); /* RFC 6962 3.1: critical */
}

void pki_exts_write(pki_der_writer *w, const pki_exts *e)
{
    pki_derw_begin(w, PKI_DER_SEQUENCE);
    for (size_t i = 0; i < e->count; i++) {
        pki_derw_begin(w, PKI_DER_SEQUENCE);
        pki_derw_oid(w, e->v[i].oid);
        if (e->v[i].critical)
            pki_derw_bool(w, 1);
        pki_derw_octet_string(w, e->v[i].value, e->v[i].len);
        pki_derw_end(w);
    }
    pki_derw_end(w);
}

int pki_key_id_from_spki(const uint8_t *spki, size_t len, uint8_t out[20])
{
    pki_der d, seq;
    pki_der_item alg, key;
    const uint8_t *bits;
    size_t blen;
    pki_der_init(&d, spki, len);
    if (pki_der_enter_expect(&d, PKI_DER_SEQUENCE, &seq, NULL) ||
        pki_der_expect(&seq, PKI_DER_SEQUENCE, &alg) ||
        pki_der_expect(&seq, PKI_DER_BIT_STRING, &key) ||
        pki_der_bit_string_octets(&key, &bits, &blen) || !pki_der_at_end(&seq) ||
        !pki_der_at_end(&d))
        return -1;
    return wc_ShaHash(bits, (word32)blen, out) == 0 ? 0 : -1;
}
