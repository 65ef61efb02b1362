#include "daemon/status.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "log/log.h"
#include "util/timefmt.h"

#define MAX_ITEMS 16
#define KEY_LEN 32
#define TEXT_LEN 160
#define LINE_LEN 1024

typedef struct {
    char key[KEY_LEN];
    char text[TEXT_LEN];
    long value;
    int counted; /* value is meaningful and shown in the file */
} item;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static item g_items[MAX_ITEMS];
static size_t g_n;
static char g_daemon[64] = "daemon";
static char g_path[4096];
static time_t g_started;
static time_t g_written; /* when the file was last written, 0 = never */
static char g_published[LINE_LEN];
static int g_warned;

/* Real time on purpose: the status file is read by another process with its own clock, and
 * an injected test clock (pki_now) must not make a live daemon look stale. */
static time_t wall_now(void)
{
    return time(NULL);
}

int pki_status_init(const char *daemon, const char *state_dir)
{
    pthread_mutex_lock(&g_lock);
    snprintf(g_daemon, sizeof g_daemon, "%s", daemon);
    g_started = wall_now();
    g_written = 0;
    g_published[0] = '\0';
    g_warned = 0;
    int rc = 0;
    struct stat st;
    if (!state_dir || stat(state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pki_warn("status: state directory %s is missing; no status file",
                 state_dir ? state_dir : "(none)");
        g_path[0] = '\0';
        rc = -1;
    } else if ((size_t)snprintf(g_path, sizeof g_path, "%s/status.json", state_dir) >=
               sizeof g_path) {
        g_path[0] = '\0';
        rc = -1;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* Caller holds g_lock. Finds key, or adds it at the end; NULL when the table is full. */
static item *find_or_add(const char *key)
{
    for (size_t i = 0; i < g_n; i++)
        if (strcmp(g_items[i].key, key) == 0)
            return &g_items[i];
    if (g_n == MAX_ITEMS)
        return NULL;
    item *it = &g_items[g_n++];
    memset(it, 0, sizeof *it);
    snprintf(it->key, sizeof it->key, "%s", key);
    return it;
}

void pki_status_set(const char *key, const char *fmt, ...)
{
    pthread_mutex_lock(&g_lock);
    item *it = find_or_add(key);
    if (it) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(it->text, sizeof it->text, fmt, ap);
        va_end(ap);
        it->counted = 0;
    }
    pthread_mutex_unlock(&g_lock);
}

static void set_count_locked(item *it, long n, const char *one, const char *many)
{
    it->value = n;
    it->counted = 1;
    snprintf(it->text, sizeof it->text, "%ld %s", n, n == 1 ? one : many);
}

void pki_status_count(const char *key, long n, const char *one, const char *many)
{
    pthread_mutex_lock(&g_lock);
    item *it = find_or_add(key);
    if (it)
        set_count_locked(it, n, one, many);
    pthread_mutex_unlock(&g_lock);
}

void pki_status_add(const char *key, long delta, const char *one, const char *many)
{
    pthread_mutex_lock(&g_lock);
    item *it = find_or_add(key);
    if (it)
        set_count_locked(it, (it->counted ? it->value : 0) + delta, one, many);
    pthread_mutex_unlock(&g_lock);
}

void pki_status_clear(const char *key)
{
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_n; i++) {
        if (strcmp(g_items[i].key, key) == 0) {
            memmove(&g_items[i], &g_items[i + 1], (g_n - i - 1) * sizeof g_items[0]);
            g_n--;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
}

/* Caller holds g_lock. */
static size_t line_locked(char *buf, size_t len)
{
    if (len == 0)
        return 0;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < g_n && used + 1 < len; i++) {
        if (!g_items[i].text[0])
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", g_items[i].text);
        if (w < 0)
            break;
        used += (size_t)w;
        if (used >= len)
            used = len - 1;
    }
    if (used == 0)
        used = (size_t)snprintf(buf, len, "running");
    return used < len ? used : len - 1;
}

size_t pki_status_line(char *buf, size_t len)
{
    pthread_mutex_lock(&g_lock);
    size_t n = line_locked(buf, len);
    pthread_mutex_unlock(&g_lock);
    return n;
}

static void put_time(json_t *o, const char *name, time_t t)
{
    char buf[40];
    if (pki_time_to_rfc3339(t, buf, sizeof buf) == 0)
        json_object_set_new(o, name, json_string(buf));
}

/* Caller holds g_lock. Writes the file through a temporary and a rename, so a reader sees the
 * old or the new file, never half of one. */
static int write_file_locked(const char *state, const char *line, time_t now)
{
    if (!g_path[0])
        return -1;
    json_t *o = json_object();
    json_t *items = json_array();
    if (!o || !items) {
        json_decref(o);
        json_decref(items);
        return -1;
    }
    json_object_set_new(o, "daemon", json_string(g_daemon));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    put_time(o, "started", g_started);
    put_time(o, "updated", now);
    json_object_set_new(o, "updated_unix", json_integer((json_int_t)now));
    json_object_set_new(o, "status", json_string(line));
    for (size_t i = 0; i < g_n; i++) {
        json_t *it = json_object();
        if (!it)
            continue;
        json_object_set_new(it, "key", json_string(g_items[i].key));
        json_object_set_new(it, "text", json_string(g_items[i].text));
        if (g_items[i].counted)
            json_object_set_new(it, "value", json_integer((json_int_t)g_items[i].value));
        json_array_append_new(items, it);
    }
    json_object_set_new(o, "items", items);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return -1;

    char tmp[sizeof g_path + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", g_path);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        int ok = off == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        if (close(fd) == 0 && ok && rename(tmp, g_path) == 0)
            rc = 0;
        else
            unlink(tmp);
    }
    free(text);
    if (rc != 0 && !g_warned) {
        g_warned = 1;
        pki_warn("status: cannot write %s: %m", g_path);
    }
    return rc;
}

void pki_status_publish(void)
{
    char line[LINE_LEN];
    pthread_mutex_lock(&g_lock);
    line_locked(line, sizeof line);
    time_t now = wall_now();
    int changed = strcmp(line, g_published) != 0;
    if (changed) {
        snprintf(g_published, sizeof g_published, "%s", line);
        pki_daemon_notify_status(line);
    }
    if (changed || g_written == 0 || now - g_written >= PKI_STATUS_REFRESH_S || now < g_written) {
        if (write_file_locked("running", line, now) == 0)
            g_written = now;
    }
    pthread_mutex_unlock(&g_lock);
}

void pki_status_shutdown(void)
{
    pthread_mutex_lock(&g_lock);
    write_file_locked("stopped", "stopped", wall_now());
    g_n = 0;
    g_published[0] = '\0';
    g_written = 0;
    pthread_mutex_unlock(&g_lock);
}

/* ---- the status commands ---- */

static void print_age(FILE *out, long s)
{
    if (s < 0)
        s = 0;
    if (s < 120)
        fprintf(out, "%ld s", s);
    else if (s < 7200)
        fprintf(out, "%ld min", s / 60);
    else if (s < 172800)
        fprintf(out, "%ld h %ld min", s / 3600, (s % 3600) / 60);
    else
        fprintf(out, "%ld days", s / 86400);
}

static int pid_alive(json_int_t pid)
{
    if (pid <= 0 || pid > 0x7fffffff)
        return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int pki_status_print(FILE *out, const char *daemon, const char *state_dir, int as_json)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/status.json", state_dir) >= sizeof path) {
        fprintf(stderr, "%s: state directory path too long\n", daemon);
        return 4;
    }
    json_error_t jerr;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        int missing = access(path, F_OK) != 0 && errno == ENOENT;
        fprintf(out, "%s: no status %s %s%s%s\n", daemon, missing ? "yet: no" : "in", path,
                missing ? " (the daemon has not run with this state directory)" : ": ",
                missing ? "" : jerr.text);
        return 4;
    }
    const char *state = json_string_value(json_object_get(o, "state"));
    const char *line = json_string_value(json_object_get(o, "status"));
    const char *started = json_string_value(json_object_get(o, "started"));
    json_int_t pid = json_integer_value(json_object_get(o, "pid"));
    json_int_t updated = json_integer_value(json_object_get(o, "updated_unix"));
    json_t *items = json_object_get(o, "items");
    if (!state || !line || !json_is_integer(json_object_get(o, "updated_unix"))) {
        fprintf(out, "%s: %s is not a status file\n", daemon, path);
        json_decref(o);
        return 4;
    }
    long age = (long)(wall_now() - (time_t)updated);
    int rc;
    const char *verdict;
    if (strcmp(state, "running") != 0) {
        rc = 3;
        verdict = "not running (stopped cleanly)";
    } else if (!pid_alive(pid)) {
        rc = 3;
        verdict = "not running (exited without a clean stop)";
    } else if (age > PKI_STATUS_STALE_S) {
        rc = 1;
        verdict = "NOT ANSWERING (its event loop has not updated the status)";
    } else {
        rc = 0;
        verdict = "running";
    }
    if (as_json) {
        json_object_set_new(o, "verdict", json_string(verdict));
        json_object_set_new(o, "exit_code", json_integer(rc));
        json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(o);
        return rc;
    }
    fprintf(out, "%s: %s\n", daemon, verdict);
    if (rc != 3 || strcmp(state, "running") == 0)
        fprintf(out, "  pid        %lld\n", (long long)pid);
    if (started)
        fprintf(out, "  started    %s\n", started);
    fprintf(out, "  updated    ");
    print_age(out, age);
    fprintf(out, " ago\n");
    fprintf(out, "  status     %s\n", line);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *key = json_string_value(json_object_get(it, "key"));
        const char *text = json_string_value(json_object_get(it, "text"));
        if (key && text)
            fprintf(out, "    %-16s %s\n", key, text);
    }
    fprintf(out, "  state dir  %s\n", state_dir);
    json_decref(o);
    return rc;
}
