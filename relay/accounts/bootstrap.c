/* The first administrator: from the command line, or through a one-time set-up link. */
#include <stdlib.h>
#include <string.h>

#include "accounts/accounts.h"
#include "log/log.h"
#include "util/timefmt.h"

#define SETUP_KEY "setup_token"
#define SETUP_LIFETIME (24 * 3600)

int accounts_bootstrap(relay_app *app, store *st, const char *base_url)
{
    (void)app;
    int64_t n;
    if (store_user_count(st, &n) != STORE_OK)
        return -1;
    if (n > 0) {
        store_meta_delete(st, SETUP_KEY);
        return 0;
    }
    char token[64], digest[AUTH_DIGEST_HEX], value[128];
    if (auth_token_new(32, token, sizeof token) != 0 || auth_token_digest(token, digest) != 0)
        return -1;
    /* Stored as "<expiry> <digest>": a leaked database does not reveal the link. */
    snprintf(value, sizeof value, "%lld %s", (long long)(pki_now() + SETUP_LIFETIME), digest);
    if (store_meta_set(st, SETUP_KEY, value) != STORE_OK)
        return -1;
    pki_notice("no administrator yet: open %s/setup#token=%s within 24 hours to create one, "
               "or run 'pki-relay user add --admin NAME'",
               base_url, token);
    memset(token, 0, sizeof token);
    return 0;
}

void accounts_setup(api_call *c)
{
    const char *token, *name, *pw;
    if (!api_body_str(c, "token", true, 128, &token) ||
        !api_body_str(c, "name", true, STORE_NAME_MAX - 1, &name) ||
        !api_body_str(c, "password", true, AUTH_PASSWORD_MAX, &pw))
        return;
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") !=
        strlen(name)) {
        api_error(c, 400, "bad_field", "'name' may use letters, digits and . _ @ -");
        return;
    }
    if (!auth_password_acceptable(pw, strlen(pw))) {
        api_error(c, 400, "weak_password", "a password needs %d to %d characters",
                  AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
        return;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(pw, strlen(pw), hash, sizeof hash) != 0) {
        api_error(c, 500, "internal", "cannot hash the password");
        return;
    }
    if (store_begin(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "database busy");
        return;
    }
    char value[128], digest[AUTH_DIGEST_HEX];
    int64_t n = -1;
    long long expiry = 0;
    char stored[AUTH_DIGEST_HEX] = "";
    bool ok = store_user_count(c->st, &n) == STORE_OK && n == 0 &&
              store_meta_get(c->st, SETUP_KEY, value, sizeof value) == STORE_OK &&
              sscanf(value, "%lld %64s", &expiry, stored) == 2 && expiry > c->now &&
              auth_token_digest(token, digest) == 0 && auth_ct_streq(digest, stored);
    if (!ok) {
        store_rollback(c->st);
        /* One answer for every failure: used, expired, wrong, or users already exist. */
        api_error(c, 403, "setup_closed", "the set-up link is not valid (used, expired or wrong)");
        return;
    }
    int64_t id;
    if (store_user_create(c->st, name, hash, true, c->now, &id) != STORE_OK ||
        store_meta_delete(c->st, SETUP_KEY) != STORE_OK) {
        store_rollback(c->st);
        api_error(c, 500, "internal", "cannot create the administrator");
        return;
    }
    store_user u;
    store_user_get(c->st, id, &u);
    c->authed = true;
    c->user = u;
    char target[48];
    snprintf(target, sizeof target, "user:%lld", (long long)id);
    api_audit(c, "user.setup", target, 0, json_pack("{s:s}", "name", name));
    if (store_commit(c->st) != STORE_OK) {
        api_error(c, 500, "internal", "cannot create the administrator");
        return;
    }
    api_json(c, 201,
             json_pack("{s:I,s:s,s:b}", "id", (json_int_t)id, "name", u.name, "admin", true));
}

/* Reads one line (without its newline) into a malloc'd buffer; NULL at EOF or if too long. */
static char *read_line(FILE *in)
{
    size_t cap = AUTH_PASSWORD_MAX + 2;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    if (!fgets(buf, (int)cap, in)) {
        free(buf);
        return NULL;
    }
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(in)) {
        memset(buf, 0, cap);
        free(buf);
        return NULL;
    }
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return buf;
}

int accounts_cli_user_add(store *st, int argc, char **argv, FILE *in, FILE *err)
{
    bool admin = false;
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--admin") == 0)
            admin = true;
        else if (argv[i][0] == '-' || name) {
            fprintf(err, "usage: pki-relay user add [--admin] NAME  (password on stdin)\n");
            return 2;
        } else
            name = argv[i];
    }
    if (!name || !*name || strlen(name) >= STORE_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") !=
            strlen(name)) {
        fprintf(err, "pki-relay: a user name is 1 to %d letters, digits or . _ @ -\n",
                STORE_NAME_MAX - 1);
        return 2;
    }
    char *pw = read_line(in);
    if (!pw || !auth_password_acceptable(pw, strlen(pw))) {
        fprintf(err, "pki-relay: read the password from standard input: %d to %d characters\n",
                AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
        if (pw) {
            memset(pw, 0, strlen(pw));
            free(pw);
        }
        return 1;
    }
    char hash[AUTH_HASH_MAX];
    int hrc = auth_password_hash(pw, strlen(pw), hash, sizeof hash);
    memset(pw, 0, strlen(pw));
    free(pw);
    if (hrc != 0) {
        fprintf(err, "pki-relay: cannot hash the password\n");
        return 1;
    }
    int64_t id;
    int rc = store_user_create(st, name, hash, admin, pki_now(), &id);
    if (rc == STORE_CONFLICT) {
        fprintf(err, "pki-relay: a user named '%s' exists\n", name);
        return 1;
    }
    if (rc != STORE_OK) {
        fprintf(err, "pki-relay: cannot create the user\n");
        return 1;
    }
    store_audit e;
    memset(&e, 0, sizeof e);
    e.time = pki_now();
    snprintf(e.actor, sizeof e.actor, "(command line)");
    snprintf(e.action, sizeof e.action, "user.create");
    snprintf(e.target, sizeof e.target, "user:%lld", (long long)id);
    snprintf(e.detail, sizeof e.detail, "{\"name\":\"%s\",\"admin\":%s}", name,
             admin ? "true" : "false");
    store_audit_append(st, &e);
    store_meta_delete(st, "setup_token"); /* the set-up link is no longer needed */
    printf("created %s%s (id %lld)\n", admin ? "administrator " : "user ", name, (long long)id);
    return 0;
}
