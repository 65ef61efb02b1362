/* Internal to lib/pkix: helpers its parsers share. Not part of the interface. */
#ifndef PKI_PKIX_IMPL_H
#define PKI_PKIX_IMPL_H

#include <stdarg.h>

#include "der/der_reader.h"
#include "pkix/pkix.h"

void pkix_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* DER as is, or the first PEM block with one of the labels (NULL-terminated list), copied into
 * a private malloc'd buffer. Returns 0, or -1 with err set. */
int pkix_input(const uint8_t *data, size_t len, const char *const *labels, const char *what,
               uint8_t **copy, size_t *copy_len, char *err, size_t errlen);
/* Reads "Extensions ::= SEQUENCE OF Extension" from the contents of it. */
int pkix_extensions_parse(const pki_der_item *seq, pki_extensions *out, char *err, size_t errlen);
void pkix_extensions_clear(pki_extensions *e);
/* GeneralNames (SEQUENCE OF GeneralName) to a malloc'd array. */
int pkix_general_names(const pki_der_item *seq, pkix_general_name **out, size_t *n);
void pkix_general_names_free(pkix_general_name *g, size_t n);
/* The TBS readers of cert.c and csr.c, shared with pki_tbs_inspect. They fill c's fields (names
 * and extensions allocated; release with pki_cert_free / pki_csr_free semantics). */
int pkix_cert_read_tbs(pki_cert *c, const pki_der_item *tbs_item, pki_span *inner_alg, char *err,
                       size_t errlen);
int pkix_csr_read_info(pki_csr *c, const pki_der_item *info, char *err, size_t errlen);
/* The SIGNED{} shape every X.509 object shares: SEQUENCE { tbs SEQUENCE, algorithm SEQUENCE,
 * signature BIT STRING } and nothing after it. On malformed input writes
 * "<what>: malformed (not a DER <asn1_name>)" and returns -1. */
int pkix_signed_split(const uint8_t *der, size_t der_len, const char *what, const char *asn1_name,
                      pki_der_item *tbs, pki_der_item *alg, pki_span *signature, char *err,
                      size_t errlen);
/* The start every parser of a signed object shares: the input (DER, or PEM with one of labels)
 * copied into *priv (owned by the caller's object from then on, also on failure), its span in
 * *der, and the SIGNED{} split. Returns 0, or -1 with err set. */
int pkix_begin(const uint8_t *data, size_t len, const char *const *labels, const char *what,
               const char *asn1_name, void **priv, pki_span *der, pki_der_item *tbs,
               pki_der_item *alg, pki_span *signature, char *err, size_t errlen);
/* The outer algorithm must repeat the one inside the TBS (RFC 5280 4.1.1.2, 5.1.1.2). */
int pkix_same_alg(const pki_span *inner, const pki_der_item *outer, const char *what, char *err,
                  size_t errlen);
/* 0 when signature over tbs verifies with spki under alg (0 alg: unsupported: -1). */
int pkix_verify_signed(pki_sig_alg alg, const pki_span *tbs, const pki_span *signature,
                       const uint8_t *spki, size_t spki_len);
static inline pki_span pkix_span(const uint8_t *p, size_t len)
{
    pki_span s = {p, len};
    return s;
}

#endif
