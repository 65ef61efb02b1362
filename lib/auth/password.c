/* argon2id password hashing (libargon2) with parameters recorded in each encoded hash. */
#include <argon2.h>
#include <pthread.h>
#include <string.h>

#include "auth/auth.h"

#define SALT_LEN 16
#define HASH_LEN 32

static uint32_t g_t_cost = 2;
static uint32_t g_m_cost = 19456; /* KiB */

void auth_password_set_cost(uint32_t t_cost, uint32_t m_cost_kib)
{
    g_t_cost = t_cost ? t_cost : 1;
    g_m_cost = m_cost_kib >= 8 ? m_cost_kib : 8;
}

bool auth_password_acceptable(const char *password, size_t len)
{
    if (!password || len < AUTH_PASSWORD_MIN || len > AUTH_PASSWORD_MAX)
        return false;
    return memchr(password, 0, len) == NULL;
}

int auth_password_hash(const char *password, size_t len, char *out, size_t outlen)
{
    if (!password || !out || len > AUTH_PASSWORD_MAX)
        return -1;
    uint8_t salt[SALT_LEN];
    if (auth_random_bytes(salt, sizeof salt) != 0)
        return -1;
    size_t need = argon2_encodedlen(g_t_cost, g_m_cost, 1, SALT_LEN, HASH_LEN, Argon2_id);
    if (need > outlen)
        return -1;
    int rc = argon2id_hash_encoded(g_t_cost, g_m_cost, 1, password, len, salt, SALT_LEN, HASH_LEN,
                                   out, outlen);
    return rc == ARGON2_OK ? 0 : -1;
}

int auth_password_verify(const char *encoded, const char *password, size_t len)
{
    if (!encoded || !password || len > AUTH_PASSWORD_MAX)
        return -1;
    if (strncmp(encoded, "$argon2id$", 10) != 0)
        return -1;
    /* argon2id_verify recomputes and compares in constant time. */
    int rc = argon2id_verify(encoded, password, len);
    if (rc == ARGON2_OK)
        return 1;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return 0;
    return -1;
}

static char g_dummy[AUTH_HASH_MAX];
static pthread_once_t g_dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    char pw[32];
    if (auth_token_new(16, pw, sizeof pw) != 0 ||
        auth_password_hash(pw, strlen(pw), g_dummy, sizeof g_dummy) != 0)
        g_dummy[0] = '\0';
}

void auth_password_burn(const char *password, size_t len)
{
    pthread_once(&g_dummy_once, make_dummy);
    if (g_dummy[0])
        (void)auth_password_verify(g_dummy, password, len);
}
