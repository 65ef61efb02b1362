/* A daemon's health in one line, e.g. "linked to relay.example, 2 YubiKeys, 3 slots
 * provisioned, 0 errors".
 *
 * The daemon's parts set named items as things change (any thread may call these). Publishing
 * renders the items, in the order each was first set, into systemd's STATUS= line (shown by
 * `systemctl status`) and into <state_dir>/status.json, written atomically (temporary file,
 * fsync, rename), which `iothsmctl status` and `pki-relay status` print with pki_status_print.
 * The file is rewritten when the line changes and at least every PKI_STATUS_REFRESH_S seconds
 * while the event loop runs, so a reader can tell a live daemon from a stuck or dead one. */
#ifndef PKI_DAEMON_STATUS_H
#define PKI_DAEMON_STATUS_H

#include <stdio.h>

#define PKI_STATUS_REFRESH_S 30
/* A status file older than this, from a daemon that says it runs, means "not answering". */
#define PKI_STATUS_STALE_S 90

/* Where to write: <state_dir>/status.json; daemon is the program name. Call once at start.
 * 0, or -1 when state_dir is unusable (STATUS= still works; the reason is logged). */
int pki_status_init(const char *daemon, const char *state_dir);

/* A text item, e.g. pki_status_set("link", "linked to %s", host). */
void pki_status_set(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A counted item shown as "<n> <one|many>", e.g. pki_status_count("keys", 2, "YubiKey",
 * "YubiKeys") gives "2 YubiKeys". */
void pki_status_count(const char *key, long n, const char *one, const char *many);
/* Adds delta to a counted item (created at 0), e.g. pki_status_add("errors", 1, "error",
 * "errors"). */
void pki_status_add(const char *key, long delta, const char *one, const char *many);
/* Removes an item. */
void pki_status_clear(const char *key);

/* The current line ("running" when there are no items). Returns its length. */
size_t pki_status_line(char *buf, size_t len);

/* Sends STATUS= and writes the file when the line changed or the file is older than
 * PKI_STATUS_REFRESH_S. Cheap otherwise: call it from the event loop's tick. */
void pki_status_publish(void);
/* Marks the file "stopped" (a clean exit) and forgets the items. */
void pki_status_shutdown(void);

/* The status commands: prints a one-screen summary of <state_dir>/status.json for daemon, or
 * the file itself with as_json. Exit codes as systemctl's: 0 running, 1 running but not
 * answering (stale), 3 not running, 4 no status (never started, or no access). */
int pki_status_print(FILE *out, const char *daemon, const char *state_dir, int as_json);

#endif
