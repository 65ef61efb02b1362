/* Cookie header parsing and Set-Cookie formatting (RFC 6265). */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

const char *auth_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    if (!header || !name || !*name || !out || outlen == 0)
        return NULL;
    size_t nlen = strlen(name);
    const char *p = header;
    while (*p) {
        while (is_space(*p) || *p == ';')
            p++;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        if (eq && eq < end) {
            const char *ne = eq;
            while (ne > p && is_space(ne[-1]))
                ne--;
            if ((size_t)(ne - p) == nlen && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1;
                const char *ve = end;
                while (v < ve && is_space(*v))
                    v++;
                while (ve > v && is_space(ve[-1]))
                    ve--;
                if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                    v++;
                    ve--;
                }
                size_t vlen = (size_t)(ve - v);
                if (vlen >= outlen)
                    return NULL;
                memcpy(out, v, vlen);
                out[vlen] = '\0';
                return out;
            }
        }
        p = end;
    }
    return NULL;
}

/* cookie-octet of RFC 6265 4.1.1; names are tokens, which is stricter, close enough here. */
static bool cookie_safe(const char *s, bool is_name)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
        if (is_name && c == '=')
            return false;
    }
    return true;
}

int auth_cookie_format(char *out, size_t outlen, const char *name, const char *value,
                       const auth_cookie_opts *opts)
{
    if (!name || !*name || !value || !cookie_safe(name, true) || !cookie_safe(value, false))
        return -1;
    auth_cookie_opts def = {0};
    if (!opts)
        opts = &def;
    const char *ss = opts->same_site ? opts->same_site : "Strict";
    if (strcmp(ss, "Strict") != 0 && strcmp(ss, "Lax") != 0 && strcmp(ss, "None") != 0)
        return -1;
    const char *path = opts->path ? opts->path : "/";
    if (!cookie_safe(path, false))
        return -1;
    char age[40] = "";
    if (opts->max_age > 0)
        snprintf(age, sizeof age, "; Max-Age=%ld", opts->max_age);
    else if (opts->max_age < 0)
        snprintf(age, sizeof age, "; Max-Age=0");
    int n = snprintf(out, outlen, "%s=%s; Path=%s%s%s%s; SameSite=%s", name, value, path, age,
                     opts->http_only ? "; HttpOnly" : "", opts->secure ? "; Secure" : "", ss);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
