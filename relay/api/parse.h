/* Route patterns and query strings (outside input, fuzzed by tests/relay/fuzz_relay_input). */
#ifndef RELAY_API_PARSE_H
#define RELAY_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define API_PARAM_LEN 64
#define API_PATH_PARAMS 4

/* Matches path against pattern segment by segment; each {x} takes one non-empty segment of
 * fewer than API_PARAM_LEN characters into params. */
bool api_path_match(const char *pattern, const char *path, char params[][API_PARAM_LEN],
                    int *nparams);
/* Value of name in a raw query string ("a=1&b=x%20y"), percent- and '+'-decoded into buf;
 * NULL when absent or too long. */
const char *api_query_value(const char *query, const char *name, char *buf, size_t buflen);

#endif
