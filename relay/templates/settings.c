/* Template settings: defaults, starter templates, JSON in and out with strict validation. */
#include <stdio.h>
#include <string.h>

#include "templates/templates.h"
#include "x509/x509.h"

static const struct {
    const char *name;
    uint32_t bit;
} KU_NAMES[] = {
    {"digitalSignature", PKI_KU_DIGITAL_SIGNATURE},
    {"nonRepudiation", PKI_KU_NON_REPUDIATION},
    {"keyEncipherment", PKI_KU_KEY_ENCIPHERMENT},
    {"dataEncipherment", PKI_KU_DATA_ENCIPHERMENT},
    {"keyAgreement", PKI_KU_KEY_AGREEMENT},
    {"keyCertSign", PKI_KU_KEY_CERT_SIGN},
    {"cRLSign", PKI_KU_CRL_SIGN},
    {"encipherOnly", PKI_KU_ENCIPHER_ONLY},
    {"decipherOnly", PKI_KU_DECIPHER_ONLY},
};
#define N_KU (sizeof KU_NAMES / sizeof KU_NAMES[0])

static const char *const EKU_NAMES[] = {"serverAuth",      "clientAuth",         "codeSigning",
                                        "emailProtection", "timeStamping",       "OCSPSigning",
                                        "smartcardLogon",  "anyExtendedKeyUsage"};

const char *const TPL_STARTER_NAMES[] = {
    "Web Server", "Client Authentication", "Web Server + Client",   "Code Signing",
    "S/MIME",     "Document Signing",      "Certificate Authority", "Timestamping",
};
const size_t TPL_STARTER_COUNT = sizeof TPL_STARTER_NAMES / sizeof TPL_STARTER_NAMES[0];

void tpl_defaults(tpl_settings *t)
{
    memset(t, 0, sizeof *t);
    t->enabled = true;
    t->validity_days = 365;
    t->renewal_copy_subject = true;
    t->subject_from_csr = true;
    t->key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT;
    snprintf(t->eku[0], sizeof t->eku[0], "serverAuth");
    t->n_eku = 1;
    t->path_len = -1;
    t->include_aia = true;
    t->include_ocsp = true;
    t->include_cdp = true;
}

static void set_eku(tpl_settings *t, const char *a, const char *b)
{
    t->n_eku = 0;
    if (a)
        snprintf(t->eku[t->n_eku++], sizeof t->eku[0], "%s", a);
    if (b)
        snprintf(t->eku[t->n_eku++], sizeof t->eku[0], "%s", b);
}

bool tpl_starter(const char *name, tpl_settings *t)
{
    tpl_defaults(t);
    snprintf(t->description, sizeof t->description, "%s", name);
    if (strcmp(name, "Web Server") == 0)
        return true;
    if (strcmp(name, "Client Authentication") == 0) {
        t->key_usage = PKI_KU_DIGITAL_SIGNATURE;
        set_eku(t, "clientAuth", NULL);
    } else if (strcmp(name, "Web Server + Client") == 0) {
        set_eku(t, "serverAuth", "clientAuth");
    } else if (strcmp(name, "Code Signing") == 0) {
        t->key_usage = PKI_KU_DIGITAL_SIGNATURE;
        set_eku(t, "codeSigning", NULL);
    } else if (strcmp(name, "S/MIME") == 0) {
        t->key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_KEY_ENCIPHERMENT;
        set_eku(t, "emailProtection", NULL);
    } else if (strcmp(name, "Document Signing") == 0) {
        t->key_usage = PKI_KU_DIGITAL_SIGNATURE | PKI_KU_NON_REPUDIATION;
        set_eku(t, "emailProtection", NULL);
    } else if (strcmp(name, "Certificate Authority") == 0) {
        t->key_usage = PKI_KU_KEY_CERT_SIGN | PKI_KU_CRL_SIGN | PKI_KU_DIGITAL_SIGNATURE;
        t->n_eku = 0;
        t->is_ca = true;
        t->path_len = 0;
        t->validity_days = 1825;
    } else if (strcmp(name, "Timestamping") == 0) {
        t->key_usage = PKI_KU_DIGITAL_SIGNATURE;
        set_eku(t, "timeStamping", NULL);
    } else {
        return false;
    }
    return true;
}

static bool valid_oid(const char *s)
{
    /* Dotted decimal with at least two arcs, first arc 0..2. */
    if (!(s[0] >= '0' && s[0] <= '2') || s[1] != '.')
        return false;
    int arcs = 1;
    for (const char *p = s + 2; *p; p++) {
        if (*p == '.') {
            if (p[-1] == '.' || !p[1])
                return false;
            arcs++;
        } else if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return arcs >= 1 && s[2] != '\0';
}

static bool valid_eku(const char *s)
{
    for (size_t i = 0; i < sizeof EKU_NAMES / sizeof EKU_NAMES[0]; i++)
        if (strcmp(s, EKU_NAMES[i]) == 0)
            return true;
    return valid_oid(s);
}

static bool valid_url(const char *s)
{
    return s[0] == '\0' || strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

static int get_bool(json_t *v, const char *k, bool *out, char *err, size_t errlen)
{
    if (!json_is_boolean(v))
        FAIL("'%s' must be true or false", k);
    *out = json_is_true(v);
    return 0;
}

static int get_str(json_t *v, const char *k, char *out, size_t cap, char *err, size_t errlen)
{
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        FAIL("'%s' must be a string of at most %zu characters", k, cap - 1);
    for (const char *p = json_string_value(v); *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n')
            FAIL("'%s' has control characters", k);
    snprintf(out, cap, "%s", json_string_value(v));
    return 0;
}

static int get_int(json_t *v, const char *k, int min, int max, int *out, char *err, size_t errlen)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        FAIL("'%s' must be an integer from %d to %d", k, min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

int tpl_from_json(tpl_settings *t, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        FAIL("settings must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int rc = 0;
        if (!strcmp(k, "enabled"))
            rc = get_bool(v, k, &t->enabled, err, errlen);
        else if (!strcmp(k, "allow_public"))
            rc = get_bool(v, k, &t->allow_public, err, errlen);
        else if (!strcmp(k, "renewal"))
            rc = get_bool(v, k, &t->renewal, err, errlen);
        else if (!strcmp(k, "renewal_revoke_old"))
            rc = get_bool(v, k, &t->renewal_revoke_old, err, errlen);
        else if (!strcmp(k, "renewal_within_days"))
            rc = get_int(v, k, 0, 3650, &t->renewal_within_days, err, errlen);
        else if (!strcmp(k, "renewal_copy_subject"))
            rc = get_bool(v, k, &t->renewal_copy_subject, err, errlen);
        else if (!strcmp(k, "signature_algorithm")) {
            pki_sig_alg alg;
            rc = get_str(v, k, t->sig_alg, sizeof t->sig_alg, err, errlen);
            if (rc == 0 && t->sig_alg[0] && pki_sig_alg_from_name(t->sig_alg, &alg) != 0)
                FAIL("'signature_algorithm' %s is not known", t->sig_alg);
        } else if (!strcmp(k, "validity_days"))
            rc = get_int(v, k, 1, 36500, &t->validity_days, err, errlen);
        else if (!strcmp(k, "description"))
            rc = get_str(v, k, t->description, sizeof t->description, err, errlen);
        else if (!strcmp(k, "subject_from_csr"))
            rc = get_bool(v, k, &t->subject_from_csr, err, errlen);
        else if (!strcmp(k, "subject_defaults")) {
            rc = get_str(v, k, t->subject_defaults, sizeof t->subject_defaults, err, errlen);
            pki_name n;
            memset(&n, 0, sizeof n);
            char nerr[160];
            if (rc == 0 && t->subject_defaults[0] &&
                pki_name_parse(&n, t->subject_defaults, nerr, sizeof nerr) != 0)
                FAIL("'subject_defaults': %s", nerr);
        } else if (!strcmp(k, "key_usage")) {
            if (!json_is_array(v))
                FAIL("'key_usage' must be an array of names");
            uint32_t bits = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                size_t j;
                for (j = 0; j < N_KU; j++)
                    if (json_is_string(e) && !strcmp(json_string_value(e), KU_NAMES[j].name))
                        break;
                if (j == N_KU)
                    FAIL("'key_usage' item %zu is not a key usage name", i);
                bits |= KU_NAMES[j].bit;
            }
            t->key_usage = bits;
        } else if (!strcmp(k, "extended_key_usage")) {
            if (!json_is_array(v) || json_array_size(v) > TPL_MAX_EKU)
                FAIL("'extended_key_usage' must be an array of at most %d names or OIDs",
                     TPL_MAX_EKU);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e) || json_string_length(e) >= sizeof t->eku[0] ||
                    !valid_eku(json_string_value(e)))
                    FAIL("'extended_key_usage' item %zu is not a purpose name or dotted OID", i);
                snprintf(t->eku[i], sizeof t->eku[0], "%s", json_string_value(e));
            }
            t->n_eku = (int)json_array_size(v);
        } else if (!strcmp(k, "is_ca"))
            rc = get_bool(v, k, &t->is_ca, err, errlen);
        else if (!strcmp(k, "path_len"))
            rc = json_is_null(v) ? (t->path_len = -1, 0)
                                 : get_int(v, k, 0, 32, &t->path_len, err, errlen);
        else if (!strcmp(k, "include_aia"))
            rc = get_bool(v, k, &t->include_aia, err, errlen);
        else if (!strcmp(k, "aia_issuer_url")) {
            rc = get_str(v, k, t->aia_issuer_url, sizeof t->aia_issuer_url, err, errlen);
            if (rc == 0 && !valid_url(t->aia_issuer_url))
                FAIL("'aia_issuer_url' must be an http(s) URL");
        } else if (!strcmp(k, "include_ocsp"))
            rc = get_bool(v, k, &t->include_ocsp, err, errlen);
        else if (!strcmp(k, "include_cdp"))
            rc = get_bool(v, k, &t->include_cdp, err, errlen);
        else if (!strcmp(k, "include_policies"))
            rc = get_bool(v, k, &t->include_policies, err, errlen);
        else if (!strcmp(k, "policy_oid")) {
            rc = get_str(v, k, t->policy_oid, sizeof t->policy_oid, err, errlen);
            if (rc == 0 && t->policy_oid[0] && !valid_oid(t->policy_oid))
                FAIL("'policy_oid' must be a dotted OID");
        } else if (!strcmp(k, "cps_url")) {
            rc = get_str(v, k, t->cps_url, sizeof t->cps_url, err, errlen);
            if (rc == 0 && !valid_url(t->cps_url))
                FAIL("'cps_url' must be an http(s) URL");
        } else
            FAIL("unknown template setting '%s'", k);
        if (rc != 0)
            return -1;
    }
    if (t->include_policies && !t->policy_oid[0])
        FAIL("'include_policies' needs 'policy_oid'");
    if (!t->is_ca && t->path_len >= 0)
        FAIL("'path_len' is only for CA templates");
    if (t->is_ca && !(t->key_usage & PKI_KU_KEY_CERT_SIGN))
        FAIL("a CA template needs the keyCertSign key usage");
    if (!t->is_ca && (t->key_usage & PKI_KU_KEY_CERT_SIGN))
        FAIL("keyCertSign is only for CA templates");
    return 0;
}

json_t *tpl_to_json(const tpl_settings *t)
{
    json_t *ku = json_array(), *eku = json_array();
    for (size_t j = 0; j < N_KU; j++)
        if (t->key_usage & KU_NAMES[j].bit)
            json_array_append_new(ku, json_string(KU_NAMES[j].name));
    for (int i = 0; i < t->n_eku; i++)
        json_array_append_new(eku, json_string(t->eku[i]));
    json_t *o = json_object();
    json_object_set_new(o, "enabled", json_boolean(t->enabled));
    json_object_set_new(o, "allow_public", json_boolean(t->allow_public));
    json_object_set_new(o, "renewal", json_boolean(t->renewal));
    json_object_set_new(o, "renewal_revoke_old", json_boolean(t->renewal_revoke_old));
    json_object_set_new(o, "renewal_within_days", json_integer(t->renewal_within_days));
    json_object_set_new(o, "renewal_copy_subject", json_boolean(t->renewal_copy_subject));
    json_object_set_new(o, "signature_algorithm", json_string(t->sig_alg));
    json_object_set_new(o, "validity_days", json_integer(t->validity_days));
    json_object_set_new(o, "description", json_string(t->description));
    json_object_set_new(o, "subject_from_csr", json_boolean(t->subject_from_csr));
    json_object_set_new(o, "subject_defaults", json_string(t->subject_defaults));
    json_object_set_new(o, "key_usage", ku);
    json_object_set_new(o, "extended_key_usage", eku);
    json_object_set_new(o, "is_ca", json_boolean(t->is_ca));
    json_object_set_new(o, "path_len", t->path_len >= 0 ? json_integer(t->path_len) : json_null());
    json_object_set_new(o, "include_aia", json_boolean(t->include_aia));
    json_object_set_new(o, "aia_issuer_url", json_string(t->aia_issuer_url));
    json_object_set_new(o, "include_ocsp", json_boolean(t->include_ocsp));
    json_object_set_new(o, "include_cdp", json_boolean(t->include_cdp));
    json_object_set_new(o, "include_policies", json_boolean(t->include_policies));
    json_object_set_new(o, "policy_oid", json_string(t->policy_oid));
    json_object_set_new(o, "cps_url", json_string(t->cps_url));
    return o;
}

int tpl_parse_stored(tpl_settings *t, const char *text)
{
    tpl_defaults(t);
    json_error_t jerr;
    json_t *o = json_loads(text ? text : "{}", 0, &jerr);
    char err[200];
    int rc = o ? tpl_from_json(t, o, err, sizeof err) : -1;
    json_decref(o);
    return rc;
}
