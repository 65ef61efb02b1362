/* Parsing what arrives in a request line: the path against a route pattern, and query
 * parameters. Kept apart from the dispatcher so the fuzzer exercises exactly this code. */
#include <stdbool.h>
#include <string.h>

#include "api/parse.h"

bool api_path_match(const char *pattern, const char *path, char params[][API_PARAM_LEN],
                    int *nparams)
{
    *nparams = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t n = strcspn(s, "/");
            if (!pe || n == 0 || n >= API_PARAM_LEN || *nparams >= API_PATH_PARAMS)
                return false;
            memcpy(params[*nparams], s, n);
            params[*nparams][n] = '\0';
            (*nparams)++;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

const char *api_query_value(const char *query, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);
    const char *p = query;
    if (!buf || buflen == 0)
        return NULL;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        if (seg > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *v = p + nlen + 1; v < p + seg; v++) {
                char ch = *v;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && v + 2 < p + seg && hexv(v[1]) >= 0 && hexv(v[2]) >= 0) {
                    ch = (char)(hexv(v[1]) << 4 | hexv(v[2]));
                    v += 2;
                }
                if (o + 1 >= buflen)
                    return NULL;
                buf[o++] = ch;
            }
            buf[o] = '\0';
            return buf;
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}
