/* Which DNS names an ACME policy allows and which it pre-approves. A pattern "example.com"
 * matches that name only; "*.example.com" matches example.com and every name below it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme_impl.h"

bool acme_dns_name_ok(char *name, bool wildcard_ok)
{
    size_t n = strlen(name);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)name[i]);
    char *p = name;
    if (p[0] == '*') {
        if (!wildcard_ok || p[1] != '.')
            return false;
        p += 2;
    }
    int labels = 0;
    bool all_digits = true;
    while (*p) {
        size_t len = strcspn(p, ".");
        if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
            return false;
        all_digits = true;
        for (size_t i = 0; i < len; i++) {
            if (!isalnum((unsigned char)p[i]) && p[i] != '-')
                return false;
            if (!isdigit((unsigned char)p[i]))
                all_digits = false;
        }
        labels++;
        p += len;
        if (*p == '.') {
            p++;
            if (!*p)
                return false; /* no trailing dot */
        }
    }
    /* At least two labels, and not an IPv4 address spelled as a name. */
    return labels >= 2 && !all_digits;
}

/* Whether pattern covers name; a wildcard name "*.x" is covered only by a subtree pattern. */
static bool covers(const char *pattern, const char *name)
{
    bool name_wild = strncmp(name, "*.", 2) == 0;
    const char *base = name_wild ? name + 2 : name;
    if (strncmp(pattern, "*.", 2) != 0)
        return !name_wild && strcmp(pattern, name) == 0;
    const char *root = pattern + 2;
    size_t rl = strlen(root), bl = strlen(base);
    if (strcmp(base, root) == 0)
        return true;
    return bl > rl && base[bl - rl - 1] == '.' && strcmp(base + bl - rl, root) == 0;
}

static bool list_covers(const char *json_text, const char *name, bool empty_means_all)
{
    json_error_t jerr;
    json_t *arr = json_loads(json_text ? json_text : "[]", 0, &jerr);
    bool ok = false;
    if (json_is_array(arr)) {
        if (json_array_size(arr) == 0)
            ok = empty_means_all;
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (json_is_string(v) && covers(json_string_value(v), name)) {
                ok = true;
                break;
            }
        }
    }
    if (arr)
        json_decref(arr);
    return ok;
}

bool acme_policy_preapproved(const acme_policy *p, const char *name)
{
    return list_covers(p->preapproved, name, false);
}

bool acme_policy_allows(const acme_policy *p, const char *name)
{
    return acme_policy_preapproved(p, name) || list_covers(p->allowed, name, true);
}
