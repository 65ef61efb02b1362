/* Command APDU parsing: the four ISO 7816-4 cases in short and extended form. Anything that does
 * not add up exactly (trailing bytes, Lc beyond the buffer, Lc of zero in extended form) is a
 * wrong length, as a card answers it. */
#include "apdu.h"

#include <string.h>

/* Commands without data point at this, so no code does arithmetic on a null pointer. */
static const uint8_t NO_DATA[1];

uint16_t apdu_parse(const uint8_t *in, size_t len, struct apdu *a)
{
    memset(a, 0, sizeof(*a));
    a->data = NO_DATA;
    if (len < 4) {
        return SW_WRONG_LENGTH;
    }
    a->cla = in[0];
    a->ins = in[1];
    a->p1 = in[2];
    a->p2 = in[3];
    if (len == 4) { /* case 1 */
        return 0;
    }
    if (len == 5) { /* case 2 short */
        a->has_le = true;
        a->le = in[4] ? in[4] : 256;
        return 0;
    }
    if (in[4] != 0) { /* short Lc */
        size_t lc = in[4];
        if (len == 5 + lc) { /* case 3 */
            a->data = in + 5;
            a->lc = lc;
            return 0;
        }
        if (len == 6 + lc) { /* case 4 */
            a->data = in + 5;
            a->lc = lc;
            a->has_le = true;
            a->le = in[5 + lc] ? in[5 + lc] : 256;
            return 0;
        }
        return SW_WRONG_LENGTH;
    }
    /* in[4] == 0 and more bytes follow: extended form */
    a->extended = true;
    if (len == 7) { /* case 2 extended */
        size_t le = ((size_t)in[5] << 8) | in[6];
        a->has_le = true;
        a->le = le ? le : 65536;
        return 0;
    }
    if (len < 7) {
        return SW_WRONG_LENGTH;
    }
    size_t lc = ((size_t)in[5] << 8) | in[6];
    if (lc == 0) {
        return SW_WRONG_LENGTH;
    }
    if (len == 7 + lc) { /* case 3 extended */
        a->data = in + 7;
        a->lc = lc;
        return 0;
    }
    if (len == 9 + lc) { /* case 4 extended */
        size_t le = ((size_t)in[7 + lc] << 8) | in[8 + lc];
        a->data = in + 7;
        a->lc = lc;
        a->has_le = true;
        a->le = le ? le : 65536;
        return 0;
    }
    return SW_WRONG_LENGTH;
}
