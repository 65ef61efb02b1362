/* libFuzzer target for the partition name in /pki/ca/{id}/crl/{n}.crl: whatever it accepts must
 * print back to exactly the input. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crl/crl_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t n = crl_part_from_name(text);
    if (n >= 0) {
        char back[40];
        snprintf(back, sizeof back, "%" PRId64 ".crl", n);
        if (strcmp(back, text) != 0)
            abort();
    } else if (n != -1) {
        abort();
    }
    free(text);
    return 0;
}
