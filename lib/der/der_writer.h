/* The project's one DER writer (ARCHITECTURE decision 3). X.690 DER: definite lengths, minimal
 * INTEGERs, canonical SET OF, RFC 5280 time and string choices.
 *
 * Usage: elements are written front to back; a constructed element is opened with
 * pki_derw_begin() and closed with pki_derw_end(), which fills in its length. The writer reserves
 * one length octet and shifts the content only when it turns out longer than 127 octets, so every
 * octet moves at most once per enclosing element: building is linear in size times nesting
 * depth (a 1,000,000-entry CRL moves its body three times, not once per entry).
 *
 * Errors are sticky: after the first failure (out of memory, bad OID, unbalanced end, …) every
 * call is a no-op and pki_derw_error() reports it, so builders check once at the end. */
#ifndef PKI_DER_WRITER_H
#define PKI_DER_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Tag constants (PKI_DER_SEQUENCE, PKI_DER_CTX(n), PKI_DER_CTX_CONS(n), …) are shared with the
 * reader. Identifiers are single octets: X.509 needs no high tag numbers. */
#include "der/der_reader.h"

#define PKI_DERW_MAX_DEPTH 24

typedef enum {
    PKI_DERW_OK = 0,
    PKI_DERW_ERR_NOMEM = -1,
    PKI_DERW_ERR_ARG = -2,   /* malformed input: bad OID text, string not valid for its type */
    PKI_DERW_ERR_DEPTH = -3, /* nesting too deep, or end() without begin() */
    PKI_DERW_ERR_OPEN = -4,  /* take/finish with elements still open */
} pki_derw_status;

typedef struct pki_der_writer {
    uint8_t *buf;
    size_t len, cap;
    size_t open_at[PKI_DERW_MAX_DEPTH]; /* offset of each open element's length octet */
    uint8_t open_set_of[PKI_DERW_MAX_DEPTH];
    int depth;
    int err;
} pki_der_writer;

void pki_derw_init(pki_der_writer *w);
/* Frees the buffer; the writer may be initialised again. */
void pki_derw_free(pki_der_writer *w);
int pki_derw_error(const pki_der_writer *w);
/* Hands the finished encoding to the caller (malloc'd; free() it) and resets the writer.
 * Returns NULL (and frees everything) on error or with elements still open. */
uint8_t *pki_derw_take(pki_der_writer *w, size_t *len);
/* Read access to what has been written so far. */
const uint8_t *pki_derw_data(const pki_der_writer *w);
size_t pki_derw_len(const pki_der_writer *w);

/* An element whose content is the elements written until the matching end(): constructed
 * types, and also OCTET STRING around DER (extnValue, OCSP responseBytes). */
void pki_derw_begin(pki_der_writer *w, unsigned tag);
/* SET OF: end() sorts the elements into DER's canonical order (X.690 11.6). */
void pki_derw_begin_set_of(pki_der_writer *w);
void pki_derw_end(pki_der_writer *w);

/* Whole elements. */
void pki_derw_tlv(pki_der_writer *w, unsigned tag, const uint8_t *val, size_t len);
void pki_derw_raw(pki_der_writer *w, const uint8_t *der, size_t len); /* already encoded */
void pki_derw_bool(pki_der_writer *w, int value);
void pki_derw_null(pki_der_writer *w);
void pki_derw_int(pki_der_writer *w, int64_t value);
void pki_derw_enum(pki_der_writer *w, int64_t value);
/* A non-negative INTEGER from big-endian magnitude octets (serial numbers): leading zeros are
 * dropped and a 0x00 is added when the top bit is set. tag is PKI_DER_INTEGER or implicit. */
void pki_derw_uint_be(pki_der_writer *w, unsigned tag, const uint8_t *be, size_t len);
void pki_derw_bit_string(pki_der_writer *w, const uint8_t *bits, size_t len, unsigned unused_bits);
/* A NamedBitList value (keyUsage, reasons): bit 0 is the first named bit; DER drops trailing
 * zero bits (X.690 11.2.2). */
void pki_derw_named_bits(pki_der_writer *w, unsigned tag, uint32_t bits);
void pki_derw_octet_string(pki_der_writer *w, const uint8_t *val, size_t len);
/* OBJECT IDENTIFIER from dotted text ("2.5.29.17"), arcs up to 128 bits (2.25.<UUID>); bad text
 * sets PKI_DERW_ERR_ARG. */
void pki_derw_oid(pki_der_writer *w, const char *dotted);
/* Encoded OID content octets from dotted text into out; returns length or -1. */
int pki_derw_oid_encode(const char *dotted, uint8_t *out, size_t outlen);

/* Time as RFC 5280 4.1.2.5 requires: UTCTime for 1950..2049, GeneralizedTime otherwise. */
void pki_derw_time(pki_der_writer *w, int64_t t);
/* Always GeneralizedTime (OCSP, invalidityDate). */
void pki_derw_generalized_time(pki_der_writer *w, int64_t t);

/* Character strings. AUTO picks PrintableString when every character is in its set, otherwise
 * UTF8String (the value must be valid UTF-8). PRINTABLE and IA5 refuse values outside their
 * sets. tag 0 means the universal tag of the chosen type. */
typedef enum {
    PKI_DERW_STR_AUTO = 0,
    PKI_DERW_STR_PRINTABLE,
    PKI_DERW_STR_UTF8,
    PKI_DERW_STR_IA5,
} pki_derw_str_kind;
void pki_derw_string(pki_der_writer *w, pki_derw_str_kind kind, const char *s, size_t len);
int pki_derw_is_printable(const char *s, size_t len);
int pki_derw_is_ia5(const char *s, size_t len);
int pki_derw_is_utf8(const char *s, size_t len);

#endif
