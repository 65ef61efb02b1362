/* Time in the forms our protocols use: RFC 3339 (JSON, ACME, logs) and the two ASN.1 forms
 * RFC 5280 requires (UTCTime through 2049, GeneralizedTime from 2050). All times are UTC.
 *
 * The clock is injectable so tests of expiry, nextUpdate and the like never sleep: every
 * component that needs "now" calls pki_now(). */
#ifndef PKI_UTIL_TIMEFMT_H
#define PKI_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Seconds since the epoch. Honours PKI_FAKE_NOW (seconds since the epoch, or "@path" of a file
 * holding them, re-read at every call) when it is set in the environment of a test build, and an
 * override installed with pki_set_clock(). */
int64_t pki_now(void);
/* Install a clock for tests; NULL restores the system clock. */
void pki_set_clock(int64_t (*clock_fn)(void));

/* "2026-11-27T14:53:46Z". buf needs 21 bytes. Returns 0, or -1 when out of range. */
int pki_time_to_rfc3339(int64_t t, char *buf, size_t buflen);
/* Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", 't'/'z' too. Returns 0 or -1. */
int pki_time_from_rfc3339(const char *text, int64_t *out);

/* RFC 5280 4.1.2.5: UTCTime "YYMMDDHHMMSSZ" for 1950..2049, GeneralizedTime
 * "YYYYMMDDHHMMSSZ" otherwise. *is_generalized tells which; buf needs 16 bytes. */
int pki_time_to_asn1(int64_t t, char *buf, size_t buflen, int *is_generalized);
/* The same with GeneralizedTime forced when force_generalized (RFC 5280 requires it in some
 * places, e.g. OCSP and invalidity dates). Formats without snprintf: a million-entry CRL formats
 * a million times. buf needs 16 bytes; returns the length written (no NUL), or -1 outside
 * years 0000..9999. */
int pki_time_format_asn1(int64_t t, int force_generalized, char *buf, int *is_generalized);
/* Parses either form as it appears in a certificate (seconds present, 'Z' required). */
int pki_time_from_asn1(const char *text, size_t len, int is_generalized, int64_t *out);

/* Days-from-civil without timegm's dependence on the TZ environment. */
int64_t pki_time_from_parts(int year, int mon, int day, int hour, int min, int sec);

#endif
