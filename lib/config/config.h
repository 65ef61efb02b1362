/* Loading a daemon's libconfig file against a schema.
 *
 * Every key a daemon accepts is listed in its schema with its type and a one-line description
 * (the same table prints `--help-config` and feeds docs). Loading fails, with "file:line: why",
 * on a syntax error, an unknown key, a key of the wrong type, or a missing required key, so
 * a typo never silently falls back to a default. */
#ifndef PKI_CONFIG_H
#define PKI_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    PKI_CFG_STRING,
    PKI_CFG_INT,
    PKI_CFG_BOOL,
    PKI_CFG_STRING_LIST, /* an array or list of strings: ["a", "b"] */
    PKI_CFG_GROUP,       /* a group whose members are described by their own entries */
} pki_cfg_type;

typedef struct {
    const char *path; /* dotted path, e.g. "http.port" */
    pki_cfg_type type;
    bool required;
    const char *default_text; /* shown in help; the code holds the real default */
    const char *help;
} pki_cfg_key;

typedef struct {
    config_t cfg;
    char path[512]; /* the file it came from, for messages */
    bool loaded;
} pki_config;

/* Parses and validates. On failure returns -1 with a message in err; cfg is left empty and
 * may still be passed to pki_config_free. */
int pki_config_load(pki_config *cfg, const char *file, const pki_cfg_key *schema, size_t schema_len,
                    char *err, size_t errlen);
/* Same, from a string (tests, and built-in defaults). */
int pki_config_load_string(pki_config *cfg, const char *text, const pki_cfg_key *schema,
                           size_t schema_len, char *err, size_t errlen);
void pki_config_free(pki_config *cfg);

/* Lookups return the default when the key is absent (validation already checked types). */
const char *pki_config_string(const pki_config *cfg, const char *path, const char *def);
long long pki_config_int(const pki_config *cfg, const char *path, long long def);
bool pki_config_bool(const pki_config *cfg, const char *path, bool def);
/* Number of strings in a list key (0 when absent) and the i-th one. */
size_t pki_config_list_len(const pki_config *cfg, const char *path);
const char *pki_config_list_item(const pki_config *cfg, const char *path, size_t i);

/* Writes the schema as a table: key, type, default, description. */
void pki_config_print_schema(FILE *out, const pki_cfg_key *schema, size_t schema_len);

#endif
