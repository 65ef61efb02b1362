/* Accounts and sessions, storage-agnostic: password hashing (argon2id), random tokens, token
 * digests for storage, constant-time comparison, CSRF tokens, login throttling and cookies.
 *
 * Nothing here touches a database: callers store what these functions return (the encoded
 * password hash, the SHA-256 digest of a session or API token) wherever they keep accounts.
 * Secrets passed in are never logged. */
#ifndef PKI_AUTH_H
#define PKI_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- passwords ---- */

/* Size of a buffer that always holds an encoded argon2id hash ("$argon2id$v=19$m=…"). */
#define AUTH_HASH_MAX 128
/* Passwords shorter than this are refused by auth_password_acceptable; longer than MAX too. */
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024

/* argon2id cost. Defaults follow OWASP's recommendation (19 MiB, 2 passes, 1 lane). Tests may
 * lower it; hashes record their own parameters, so verification of old hashes keeps working. */
void auth_password_set_cost(uint32_t t_cost, uint32_t m_cost_kib);
/* Whether a password is within the length limits (and has no NUL byte: len is strlen). */
bool auth_password_acceptable(const char *password, size_t len);
/* Hashes with a fresh random salt into out (>= AUTH_HASH_MAX bytes). 0, or -1. */
int auth_password_hash(const char *password, size_t len, char *out, size_t outlen);
/* 1 when password matches the encoded hash, 0 when not, -1 when the hash is malformed. */
int auth_password_verify(const char *encoded, const char *password, size_t len);
/* Runs one verification against a fixed dummy hash, so an unknown user name costs the same
 * time as a wrong password (no user enumeration by timing). */
void auth_password_burn(const char *password, size_t len);

/* ---- random tokens ---- */

/* Cryptographically random bytes from the kernel. 0, or -1. */
int auth_random_bytes(void *buf, size_t len);
/* A base64url token of nbytes random bytes (32 for sessions and API tokens) into out.
 * out needs 4*ceil(nbytes/3)+1 bytes; returns 0, or -1. */
int auth_token_new(size_t nbytes, char *out, size_t outlen);
/* Same, with a readable prefix: "<prefix>_<base64url>", e.g. API tokens "pkr_…". */
int auth_token_new_prefixed(const char *prefix, size_t nbytes, char *out, size_t outlen);
/* Lower-case hex SHA-256 of a token (what a store keeps instead of the token). */
#define AUTH_DIGEST_HEX 65
int auth_token_digest(const char *token, char out[AUTH_DIGEST_HEX]);

/* ---- comparison ---- */

/* Constant time in len. */
bool auth_ct_equal(const void *a, const void *b, size_t len);
/* Constant time in the length of b (the secret side); false when lengths differ or NULL. */
bool auth_ct_streq(const char *a, const char *b);

/* ---- CSRF (double submit) ----
 * The CSRF token is derived from the session token: HMAC-SHA256(session, "csrf"), base64url.
 * The server sends it in a readable cookie; scripts echo it in the X-CSRF-Token header on
 * unsafe methods. Deriving it means it needs no storage and cannot be set by a sibling domain
 * without knowing the session. */
#define AUTH_CSRF_LEN 44 /* 43 characters + NUL */
int auth_csrf_token(const char *session_token, char out[AUTH_CSRF_LEN]);
/* true when header equals the token derived from session_token. */
bool auth_csrf_check(const char *session_token, const char *header_value);
/* Whether an HTTP method needs a CSRF check (everything but GET, HEAD, OPTIONS). */
bool auth_method_is_unsafe(const char *method);

/* ---- login throttling ----
 * Failures are counted per key (callers use both "user:<name>" and "ip:<addr>"). After
 * max_failures within window_s, the key is locked for lockout_s, doubling on each further
 * lock-out up to 1 hour. Memory is bounded: the oldest entries are dropped. Thread-safe. */
typedef struct auth_throttle auth_throttle;
auth_throttle *auth_throttle_new(unsigned max_failures, unsigned window_s, unsigned lockout_s);
void auth_throttle_free(auth_throttle *t);
/* Seconds the caller must wait before another attempt for key (0 = go ahead). */
unsigned auth_throttle_wait(auth_throttle *t, const char *key, int64_t now);
void auth_throttle_failure(auth_throttle *t, const char *key, int64_t now);
void auth_throttle_success(auth_throttle *t, const char *key);

/* ---- cookies ---- */

/* Value of cookie name in a Cookie header ("a=1; b=2"), copied to out. NULL when absent,
 * empty-named, or too long. Quoted values have their quotes removed. */
const char *auth_cookie_get(const char *header, const char *name, char *out, size_t outlen);

typedef struct {
    const char *path;      /* default "/" */
    long max_age;          /* seconds; 0 = session cookie; < 0 = delete (Max-Age=0) */
    bool http_only;        /* not readable by scripts */
    bool secure;           /* HTTPS only */
    const char *same_site; /* "Strict" (default when NULL), "Lax" or "None" */
} auth_cookie_opts;

/* Formats a Set-Cookie value "name=value; Path=/; Max-Age=…; HttpOnly; Secure; SameSite=Strict".
 * Refuses names/values with characters a cookie cannot carry. 0, or -1. */
int auth_cookie_format(char *out, size_t outlen, const char *name, const char *value,
                       const auth_cookie_opts *opts);

#endif
