/* Parsing a partition CRL's name from the request path. */
#include <string.h>

#include "crl/crl_name.h"

int64_t crl_part_from_name(const char *s)
{
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || (i > 1 && s[0] == '0') || strcmp(s + i, ".crl") != 0)
        return -1;
    return v;
}
