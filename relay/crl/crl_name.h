/* The name of a CRL partition in its URL ("<n>.crl"), apart from crl.c so the fuzzer can take it
 * alone. */
#ifndef RELAY_CRL_NAME_H
#define RELAY_CRL_NAME_H

#include <stdint.h>

/* n from "<n>.crl" (decimal, no sign, no leading zeros, fits int64_t); -1 for anything else. */
int64_t crl_part_from_name(const char *s);

#endif
