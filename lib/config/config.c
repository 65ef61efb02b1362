#include "config/config.h"

#include <string.h>

static const char *type_name(pki_cfg_type t)
{
    switch (t) {
    case PKI_CFG_STRING:
        return "string";
    case PKI_CFG_INT:
        return "integer";
    case PKI_CFG_BOOL:
        return "boolean";
    case PKI_CFG_STRING_LIST:
        return "list of strings";
    case PKI_CFG_GROUP:
        return "group";
    }
    return "?";
}

static const pki_cfg_key *find_key(const pki_cfg_key *schema, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(schema[i].path, path) == 0)
            return &schema[i];
    return NULL;
}

static bool type_matches(const config_setting_t *s, pki_cfg_type want)
{
    int t = config_setting_type(s);
    switch (want) {
    case PKI_CFG_STRING:
        return t == CONFIG_TYPE_STRING;
    case PKI_CFG_INT:
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case PKI_CFG_BOOL:
        return t == CONFIG_TYPE_BOOL;
    case PKI_CFG_GROUP:
        return t == CONFIG_TYPE_GROUP;
    case PKI_CFG_STRING_LIST:
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return false;
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return false;
        }
        return true;
    }
    return false;
}

static const char *source_file(const pki_config *cfg, const config_setting_t *s)
{
    const char *f = config_setting_source_file(s);
    return f ? f : cfg->path;
}

/* Walks every member of a group and checks it against the schema. */
static int check_group(const pki_config *cfg, const config_setting_t *group, const char *prefix,
                       const pki_cfg_key *schema, size_t n, char *err, size_t errlen)
{
    int count = config_setting_length(group);
    for (int i = 0; i < count; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[512];
        if (!name)
            continue;
        if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name) >=
            (int)sizeof path) {
            snprintf(err, errlen, "%s:%d: key name too long", source_file(cfg, s),
                     config_setting_source_line(s));
            return -1;
        }
        const pki_cfg_key *k = find_key(schema, n, path);
        if (!k) {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", source_file(cfg, s),
                     config_setting_source_line(s), path);
            return -1;
        }
        if (!type_matches(s, k->type)) {
            snprintf(err, errlen, "%s:%d: '%s' must be a %s", source_file(cfg, s),
                     config_setting_source_line(s), path, type_name(k->type));
            return -1;
        }
        if (k->type == PKI_CFG_GROUP && check_group(cfg, s, path, schema, n, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static int validate(pki_config *cfg, const pki_cfg_key *schema, size_t n, char *err, size_t errlen)
{
    if (check_group(cfg, config_root_setting(&cfg->cfg), "", schema, n, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (schema[i].required && !config_lookup(&cfg->cfg, schema[i].path)) {
            snprintf(err, errlen, "%s: missing required key '%s'", cfg->path, schema[i].path);
            return -1;
        }
    }
    return 0;
}

static int finish_load(pki_config *cfg, int parsed, const pki_cfg_key *schema, size_t n, char *err,
                       size_t errlen)
{
    if (parsed != CONFIG_TRUE) {
        const char *f = config_error_file(&cfg->cfg);
        snprintf(err, errlen, "%s:%d: %s", f ? f : cfg->path, config_error_line(&cfg->cfg),
                 config_error_text(&cfg->cfg));
        config_destroy(&cfg->cfg);
        return -1;
    }
    if (validate(cfg, schema, n, err, errlen) != 0) {
        config_destroy(&cfg->cfg);
        return -1;
    }
    cfg->loaded = true;
    return 0;
}

int pki_config_load(pki_config *cfg, const char *file, const pki_cfg_key *schema, size_t schema_len,
                    char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", file);
    config_init(&cfg->cfg);
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %m", file);
        config_destroy(&cfg->cfg);
        return -1;
    }
    int parsed = config_read(&cfg->cfg, f);
    fclose(f);
    return finish_load(cfg, parsed, schema, schema_len, err, errlen);
}

int pki_config_load_string(pki_config *cfg, const char *text, const pki_cfg_key *schema,
                           size_t schema_len, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "<string>");
    config_init(&cfg->cfg);
    int parsed = config_read_string(&cfg->cfg, text);
    return finish_load(cfg, parsed, schema, schema_len, err, errlen);
}

void pki_config_free(pki_config *cfg)
{
    if (cfg->loaded)
        config_destroy(&cfg->cfg);
    cfg->loaded = false;
}

const char *pki_config_string(const pki_config *cfg, const char *path, const char *def)
{
    const char *v = NULL;
    if (cfg->loaded && config_lookup_string(&cfg->cfg, path, &v) == CONFIG_TRUE)
        return v;
    return def;
}

long long pki_config_int(const pki_config *cfg, const char *path, long long def)
{
    long long v = 0;
    if (cfg->loaded && config_lookup_int64(&cfg->cfg, path, &v) == CONFIG_TRUE)
        return v;
    int iv = 0;
    if (cfg->loaded && config_lookup_int(&cfg->cfg, path, &iv) == CONFIG_TRUE)
        return iv;
    return def;
}

bool pki_config_bool(const pki_config *cfg, const char *path, bool def)
{
    int v = 0;
    if (cfg->loaded && config_lookup_bool(&cfg->cfg, path, &v) == CONFIG_TRUE)
        return v != 0;
    return def;
}

size_t pki_config_list_len(const pki_config *cfg, const char *path)
{
    const config_setting_t *s = cfg->loaded ? config_lookup(&cfg->cfg, path) : NULL;
    return s ? (size_t)config_setting_length(s) : 0;
}

const char *pki_config_list_item(const pki_config *cfg, const char *path, size_t i)
{
    const config_setting_t *s = cfg->loaded ? config_lookup(&cfg->cfg, path) : NULL;
    return s ? config_setting_get_string_elem(s, (int)i) : NULL;
}

void pki_config_print_schema(FILE *out, const pki_cfg_key *schema, size_t schema_len)
{
    for (size_t i = 0; i < schema_len; i++) {
        const pki_cfg_key *k = &schema[i];
        if (k->type == PKI_CFG_GROUP)
            continue;
        fprintf(out, "  %-28s %-16s %s%s%s%s\n", k->path, type_name(k->type), k->help,
                k->default_text ? " (default: " : "", k->default_text ? k->default_text : "",
                k->default_text ? ")" : "");
    }
}
