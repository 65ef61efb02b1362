/* A strict, bounds-checked DER reader for input from outside (CSRs, OCSP requests, CRLs, keys).
 *
 * A pki_der cursor walks the elements of one region (a whole buffer, or the contents of a
 * constructed element). Reading never goes past the region, never allocates, and refuses what
 * DER forbids: indefinite lengths, non-minimal lengths, high tag numbers (X.509 never uses
 * them), non-minimal INTEGERs, BOOLEANs other than 00/FF, BIT STRINGs with unused bits set.
 * Every function returns 0 on success and -1 on malformed input (optional readers return 1 when
 * the element is absent). A failed read leaves the cursor where it was. */
#ifndef PKI_DER_READER_H
#define PKI_DER_READER_H

#include <stddef.h>
#include <stdint.h>

/* Identifier octets (class | constructed | number) for the universal types we read. */
enum {
    PKI_DER_BOOLEAN = 0x01,
    PKI_DER_INTEGER = 0x02,
    PKI_DER_BIT_STRING = 0x03,
    PKI_DER_OCTET_STRING = 0x04,
    PKI_DER_NULL = 0x05,
    PKI_DER_OID = 0x06,
    PKI_DER_ENUMERATED = 0x0a,
    PKI_DER_UTF8_STRING = 0x0c,
    PKI_DER_PRINTABLE_STRING = 0x13,
    PKI_DER_T61_STRING = 0x14,
    PKI_DER_IA5_STRING = 0x16,
    PKI_DER_UTC_TIME = 0x17,
    PKI_DER_GENERALIZED_TIME = 0x18,
    PKI_DER_VISIBLE_STRING = 0x1a,
    PKI_DER_UNIVERSAL_STRING = 0x1c,
    PKI_DER_BMP_STRING = 0x1e,
    PKI_DER_SEQUENCE = 0x30,
    PKI_DER_SET = 0x31,
};
/* Context-specific tags: [n] IMPLICIT primitive, and [n] constructed (EXPLICIT or SEQUENCE). */
#define PKI_DER_CTX(n) (0x80u | (unsigned)(n))
#define PKI_DER_CTX_CONS(n) (0xa0u | (unsigned)(n))

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
} pki_der;

typedef struct {
    unsigned tag;       /* the identifier octet */
    const uint8_t *val; /* contents */
    size_t len;
    const uint8_t *raw; /* the whole element: identifier, length, contents */
    size_t raw_len;
} pki_der_item;

void pki_der_init(pki_der *d, const uint8_t *buf, size_t len);
/* Whether every element of the region has been read. */
int pki_der_at_end(const pki_der *d);
/* The identifier octet of the next element, or -1 at the end. */
int pki_der_peek_tag(const pki_der *d);

/* Reads the next element whatever its tag. Returns 0, -1 malformed, 1 at the end. */
int pki_der_next(pki_der *d, pki_der_item *it);
/* Reads the next element, which must carry tag. */
int pki_der_expect(pki_der *d, unsigned tag, pki_der_item *it);
/* Reads the next element if it carries tag: 0 read, 1 absent (cursor unchanged), -1 malformed. */
int pki_der_optional(pki_der *d, unsigned tag, pki_der_item *it);
/* Opens a constructed element for reading its contents. */
int pki_der_enter(const pki_der_item *it, pki_der *inner);
/* Reads a SEQUENCE (or any constructed tag) and opens it in one step. */
int pki_der_enter_expect(pki_der *d, unsigned tag, pki_der *inner, pki_der_item *it_or_null);
/* Checks that a whole buffer is exactly one element (no trailing bytes) and reads it. */
int pki_der_single(const uint8_t *buf, size_t len, pki_der_item *it);

/* INTEGER (or ENUMERATED) contents: minimal two's complement. */
int pki_der_int_check(const pki_der_item *it);
/* Non-negative value that fits a uint64_t. */
int pki_der_int_u64(const pki_der_item *it, uint64_t *v);
/* Small signed value that fits a long. */
int pki_der_int_long(const pki_der_item *it, long *v);
/* Magnitude of a non-negative INTEGER without the leading 00 sign octet (serials, moduli). */
int pki_der_int_unsigned_bytes(const pki_der_item *it, const uint8_t **mag, size_t *len);
int pki_der_boolean(const pki_der_item *it, int *v);
int pki_der_null(const pki_der_item *it);

/* OBJECT IDENTIFIER to dotted text ("1.2.840.10045.2.1"); buf of at least 16 bytes.
 * Refuses non-minimal sub-identifiers and arcs beyond 128 bits (2.25.<UUID> arcs fit). */
int pki_der_oid_text(const pki_der_item *it, char *buf, size_t cap);
/* Whether the element is an OID equal to dotted. */
int pki_der_oid_is(const pki_der_item *it, const char *dotted);

/* BIT STRING: the octets and the number of unused bits in the last one (which must be 0). */
int pki_der_bit_string(const pki_der_item *it, const uint8_t **bits, size_t *len, unsigned *unused);
/* BIT STRING whose unused count is 0: the octets (keys, signatures). */
int pki_der_bit_string_octets(const pki_der_item *it, const uint8_t **bits, size_t *len);
/* Named-bit list (keyUsage, reasonFlags): bit 0 is the most significant of the first octet. */
int pki_der_bit_string_flags(const pki_der_item *it, uint32_t *flags);

/* UTCTime (YYMMDDHHMMSSZ, 1950..2049) or GeneralizedTime (YYYYMMDDHHMMSSZ) to epoch seconds. */
int pki_der_time(const pki_der_item *it, int64_t *t);

/* A string type (UTF8, Printable, IA5, Visible, T61 as Latin-1 bytes) copied NUL-terminated.
 * Refuses embedded NULs, characters outside PrintableString/IA5String, invalid UTF-8 and
 * strings that do not fit. BMPString and UniversalString are converted to UTF-8. */
int pki_der_string(const pki_der_item *it, char *buf, size_t cap);

#endif
