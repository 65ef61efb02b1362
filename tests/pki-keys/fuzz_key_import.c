/* Private key import on arbitrary bytes (PEM or DER, every container form). No password is
 * given: encrypted keys are parsed and checked up to the point of decryption (a password would
 * let one input demand millions of PBKDF2 rounds and stall the fuzzer; the decrypted key then
 * takes the same path as a plain one, which is fuzzed here). A refusal always carries a
 * message. */
#include <stdint.h>
#include <stdlib.h>

#include "keys/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    pki_key *k = pki_key_import(data, size, NULL, err, sizeof err);
    if (!k) {
        if (!err[0])
            abort();
        return 0;
    }
    size_t len;
    if (!pki_key_spki(k, &len) || len == 0)
        abort();
    pki_key_free(k);
    return 0;
}
