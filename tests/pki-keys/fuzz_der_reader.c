/* The DER reader on arbitrary bytes: walk every element recursively and run every decoder on it.
 * Beyond not crashing: an element never reaches outside its region, and an OID the reader
 * accepts re-encodes (with the DER writer, within its arc range) to exactly its original
 * octets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "der/der_reader.h"
#include "der/der_writer.h"
#include "pkix/pkix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_item(const pki_der_item *it)
{
    uint64_t u;
    long l;
    int b;
    int64_t t;
    const uint8_t *p;
    size_t n;
    unsigned unused;
    uint32_t flags;
    char buf[512];
    (void)pki_der_int_u64(it, &u);
    (void)pki_der_int_long(it, &l);
    (void)pki_der_int_unsigned_bytes(it, &p, &n);
    (void)pki_der_boolean(it, &b);
    (void)pki_der_null(it);
    (void)pki_der_bit_string(it, &p, &n, &unused);
    (void)pki_der_bit_string_flags(it, &flags);
    (void)pki_der_time(it, &t);
    if (pki_der_string(it, buf, sizeof buf) == 0 && strlen(buf) >= sizeof buf)
        abort();
    if (pki_der_oid_text(it, buf, sizeof buf) == 0) {
        uint8_t enc[512];
        /* The writer takes arcs up to 2^60, the reader up to 2^64-1: compare when both can. */
        int len = pki_derw_oid_encode(buf, enc, sizeof enc);
        if (len >= 0 && (len != (int)it->len || memcmp(enc, it->val, it->len) != 0))
            abort();
    }
    if (it->tag == PKI_DER_SEQUENCE) {
        char *name = pki_name_to_text(it->raw, it->raw_len);
        free(name);
    }
}

static void walk(pki_der *d, int depth)
{
    pki_der_item it;
    while (pki_der_next(d, &it) == 0) {
        if (it.raw < d->p || it.raw + it.raw_len > d->p + d->len ||
            it.val + it.len != it.raw + it.raw_len)
            abort();
        check_item(&it);
        pki_der inner;
        if (depth < 32 && pki_der_enter(&it, &inner) == 0)
            walk(&inner, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pki_der d;
    pki_der_init(&d, data, size);
    walk(&d, 0);
    return 0;
}
