/* Private key import on arbitrary bytes (PEM or DER, every container form). Without a password
 * encrypted keys stop before decryption; with a fixed one the PBES2 path runs too (the iteration
 * cap keeps each run short). A refusal always carries a message. */
#include <stdint.h>
#include <stdlib.h>

#include "keys/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    const char *password = size > 0 && (data[0] & 1) ? "fuzz" : NULL;
    pki_key *k = pki_key_import(data, size, password, err, sizeof err);
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
