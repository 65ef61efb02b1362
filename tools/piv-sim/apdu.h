/* ISO 7816-4 command APDU parsing (short and extended forms) and the status words the applet
 * answers with. */
#ifndef PIVSIM_APDU_H
#define PIVSIM_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_OK 0x9000
#define SW_BYTES_REMAINING 0x6100 /* | remaining (00 = 256 or more) */
#define SW_VERIFY_FAIL 0x63C0     /* | tries left */
#define SW_MEMORY_FAILURE 0x6581
#define SW_WRONG_LENGTH 0x6700
#define SW_LAST_CMD_EXPECTED 0x6883
#define SW_SECURITY_STATUS 0x6982
#define SW_AUTH_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_WRONG_DATA 0x6A80
#define SW_FUNC_NOT_SUPPORTED 0x6A81
#define SW_FILE_NOT_FOUND 0x6A82
#define SW_NOT_ENOUGH_MEMORY 0x6A84
#define SW_INCORRECT_P1P2 0x6A86
#define SW_REF_NOT_FOUND 0x6A88
#define SW_WRONG_P1P2 0x6B00
#define SW_INS_NOT_SUPPORTED 0x6D00
#define SW_CLA_NOT_SUPPORTED 0x6E00
#define SW_UNKNOWN 0x6F00

struct apdu {
    uint8_t cla, ins, p1, p2;
    const uint8_t *data; /* points into the caller's buffer */
    size_t lc;
    size_t le; /* expected response length; 0 when absent */
    bool has_le;
    bool extended; /* extended-length encoding was used */
};

/* Parses a command APDU. Returns 0 on success or the status word to answer with. */
uint16_t apdu_parse(const uint8_t *in, size_t len, struct apdu *out);

#endif
