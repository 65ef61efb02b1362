#include "util/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t (*g_clock)(void);

void pki_set_clock(int64_t (*clock_fn)(void))
{
    g_clock = clock_fn;
}

static const char *env_fake_now;

static void read_fake_now(void)
{
    env_fake_now = getenv("PKI_FAKE_NOW");
}

int64_t pki_now(void)
{
    if (g_clock)
        return g_clock();
    /* Read once: the environment does not change under a running daemon, and this is on every
     * request's path (an OCSP answer asks for the time). */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_fake_now);
    const char *fake = env_fake_now;
    char buf[32];
    if (fake && fake[0] == '@') {
        /* "@path": the clock is the number in that file, read at every call, so a test can
         * move a running daemon's time forward (rewrite the file by rename). */
        FILE *f = fopen(fake + 1, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            n--;
        buf[n] = '\0';
        fake = buf;
    }
    if (fake && *fake) {
        char *end = NULL;
        long long v = strtoll(fake, &end, 10);
        if (end && *end == '\0')
            return (int64_t)v;
    }
    return (int64_t)time(NULL);
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t pki_time_from_parts(int year, int mon, int day, int hour, int min, int sec)
{
    return days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
}

static void split(int64_t t, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int64_t days = t / 86400;
    int64_t rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, y, mo, d);
    *h = (int)(rem / 3600);
    *mi = (int)(rem / 60 % 60);
    *s = (int)(rem % 60);
}

int pki_time_to_rfc3339(int64_t t, char *buf, size_t buflen)
{
    int y, mo, d, h, mi, s;
    split(t, &y, &mo, &d, &h, &mi, &s);
    if (y < 0 || y > 9999 || buflen < 21)
        return -1;
    snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
    return 0;
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int valid_parts(int y, int mo, int d, int h, int mi, int s)
{
    return mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59 &&
           s <= 59;
}

int pki_time_from_rfc3339(const char *text, int64_t *out)
{
    int y, mo, d, h, mi, s;
    size_t len = strlen(text);
    if (len < 20)
        return -1;
    if (digits(text, 4, &y) || text[4] != '-' || digits(text + 5, 2, &mo) || text[7] != '-' ||
        digits(text + 8, 2, &d) || (text[10] != 'T' && text[10] != 't') ||
        digits(text + 11, 2, &h) || text[13] != ':' || digits(text + 14, 2, &mi) ||
        text[16] != ':' || digits(text + 17, 2, &s))
        return -1;
    if (!valid_parts(y, mo, d, h, mi, s))
        return -1;
    const char *p = text + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int64_t offset = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    } else {
        return -1;
    }
    *out = pki_time_from_parts(y, mo, d, h, mi, s) - offset;
    return 0;
}

static char *two_digits(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

int pki_time_format_asn1(int64_t t, int force_generalized, char *buf, int *is_generalized)
{
    if (t < -62167219200LL || t > 253402300799LL) /* years 0000..9999 */
        return -1;
    int y, mo, d, h, mi, s;
    split(t, &y, &mo, &d, &h, &mi, &s);
    int gen = force_generalized || y < 1950 || y > 2049;
    char *p = buf;
    if (gen)
        p = two_digits(p, (unsigned)(y / 100));
    p = two_digits(p, (unsigned)(y % 100));
    p = two_digits(p, (unsigned)mo);
    p = two_digits(p, (unsigned)d);
    p = two_digits(p, (unsigned)h);
    p = two_digits(p, (unsigned)mi);
    p = two_digits(p, (unsigned)s);
    *p++ = 'Z';
    *is_generalized = gen;
    return (int)(p - buf);
}

int pki_time_to_asn1(int64_t t, char *buf, size_t buflen, int *is_generalized)
{
    if (buflen < 16)
        return -1;
    int n = pki_time_format_asn1(t, 0, buf, is_generalized);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

int pki_time_from_asn1(const char *text, size_t len, int is_generalized, int64_t *out)
{
    int y, mo, d, h, mi, s;
    size_t ylen = is_generalized ? 4 : 2;
    if (len != ylen + 11 || text[len - 1] != 'Z')
        return -1;
    if (digits(text, (int)ylen, &y) || digits(text + ylen, 2, &mo) ||
        digits(text + ylen + 2, 2, &d) || digits(text + ylen + 4, 2, &h) ||
        digits(text + ylen + 6, 2, &mi) || digits(text + ylen + 8, 2, &s))
        return -1;
    if (!is_generalized)
        y += y >= 50 ? 1900 : 2000;
    if (!valid_parts(y, mo, d, h, mi, s))
        return -1;
    *out = pki_time_from_parts(y, mo, d, h, mi, s);
    return 0;
}
