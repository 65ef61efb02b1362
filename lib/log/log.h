/* Logging for both daemons.
 *
 * Under systemd (JOURNAL_STREAM set) messages go to the journal with structured fields, so
 * `journalctl -u iothsm-agent CA=…` works; otherwise to stderr as "level: message".
 * Never pass a secret (PIN, PUK, management key, password, token, private key) to these. */
#ifndef PKI_LOG_H
#define PKI_LOG_H

#include <syslog.h>

/* Program name used in stderr output and SYSLOG_IDENTIFIER. */
void pki_log_init(const char *ident);
/* Messages above this priority are dropped (LOG_DEBUG shows all). Default LOG_INFO. */
void pki_log_set_level(int max_priority);
/* Parses "error", "warning", "notice", "info", "debug"; -1 when unknown. */
int pki_log_level_from_name(const char *name);

void pki_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* With extra journal fields: fields is a NULL-terminated array of "NAME=value" strings
 * (names upper-case, e.g. "CA=3", "SLOT=9c", "REQUEST_ID=…", "SERIAL=…"). On stderr the
 * fields are appended as " [CA=3 SLOT=9c]". */
void pki_log_fields(int priority, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define pki_err(...) pki_log(LOG_ERR, __VA_ARGS__)
#define pki_warn(...) pki_log(LOG_WARNING, __VA_ARGS__)
#define pki_notice(...) pki_log(LOG_NOTICE, __VA_ARGS__)
#define pki_info(...) pki_log(LOG_INFO, __VA_ARGS__)
#define pki_debug(...) pki_log(LOG_DEBUG, __VA_ARGS__)

#endif
