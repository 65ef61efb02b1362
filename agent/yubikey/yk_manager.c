#include "yubikey/yk.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <winscard.h>

#include "log/log.h"
#include "yubikey/yk_card.h"

#define MAX_READERS 16
#define PNP_READER "\\\\?PnP?\\Notification"
#define MAX_CACHED_CERTS 32 /* more than the PIV slots that hold keys */

typedef struct job {
    yk_job_fn fn;
    void *ctx;
    void (*after)(void *arg, bool changed); /* runs once the description is up to date */
    void *after_arg;
    struct job *next;
} job;

typedef struct yk_device {
    yk_manager *m;
    char reader[256];
    uint32_t serial; /* 0 until the worker has read it */
    pthread_t thread;
    bool stop;    /* the card left: finish the current job, fail the rest */
    bool refresh; /* re-read the description when idle */
    job *head, *tail;
    pthread_cond_t cond;
    json_t *info;    /* the cached description; NULL until read */
    secret sign_pin; /* kept for link signatures (locked memory); wiped when the card leaves */
    /* Slot certificates as last read from this card (yk_worker_read_cert): the worker's own,
     * touched by no other thread; dropped after any job that changed the card and on a
     * re-read, and gone with the device when the card leaves. */
    struct {
        int slot;
        uint8_t *der;
        size_t len;
    } certs[MAX_CACHED_CERTS];
    int n_certs;
    struct yk_device *next;
} yk_device;

/* The device whose worker this thread is (NULL on every other thread). */
static __thread yk_device *t_worker_dev;

struct yk_manager {
    char filter[128];
    pthread_mutex_t lock; /* devices, their queues, flags and info */
    yk_device *devices;
    pthread_t monitor;
    volatile bool stop;
    SCARDCONTEXT ctx; /* the monitor's; SCardCancel wakes it */
    bool have_ctx;
};

/* Connects to the reader; a freshly inserted card may need a moment. */
static ykpiv_state *connect_card(const char *reader)
{
    ykpiv_state *yk = NULL;
    if (ykpiv_init(&yk, 0) != YKPIV_OK)
        return NULL;
    for (int attempt = 0; attempt < 10; attempt++) {
        if (ykpiv_connect(yk, reader) == YKPIV_OK)
            return yk;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ykpiv_done(yk);
    return NULL;
}

static void set_info(yk_device *d, json_t *info)
{
    yk_manager *m = d->m;
    json_object_set_new(info, "reader", json_string(d->reader));
    pthread_mutex_lock(&m->lock);
    json_decref(d->info);
    d->info = info;
    pthread_mutex_unlock(&m->lock);
}

static void refresh(yk_device *d, ykpiv_state *yk, uint32_t serial, int what)
{
    json_t *info = NULL;
    if (what != YK_CHANGED) {
        pthread_mutex_lock(&d->m->lock);
        info = d->info ? json_deep_copy(d->info) : NULL;
        pthread_mutex_unlock(&d->m->lock);
    }
    if (info)
        ykc_redescribe(yk, info, what & 0x100 ? what & 0xff : -1);
    else
        info = ykc_describe(yk, serial);
    set_info(d, info);
}

static void cert_cache_clear(yk_device *d)
{
    for (int i = 0; i < d->n_certs; i++)
        free(d->certs[i].der);
    d->n_certs = 0;
}

int yk_worker_read_cert(ykpiv_state *yk, int slot, uint8_t **der, size_t *len, yk_result *r)
{
    yk_device *d = t_worker_dev;
    for (int i = 0; d && i < d->n_certs; i++) {
        if (d->certs[i].slot != slot)
            continue;
        if (!(*der = malloc(d->certs[i].len)))
            return ykc_fail(r, PKI_SIGN_ERR_INTERNAL, 500, "internal", "out of memory");
        memcpy(*der, d->certs[i].der, d->certs[i].len);
        *len = d->certs[i].len;
        return 0;
    }
    int rc = ykc_read_cert(yk, slot, der, len, r);
    if (rc == 0 && d && d->n_certs < MAX_CACHED_CERTS) {
        uint8_t *copy = malloc(*len);
        if (copy) {
            memcpy(copy, *der, *len);
            d->certs[d->n_certs].slot = slot;
            d->certs[d->n_certs].der = copy;
            d->certs[d->n_certs].len = *len;
            d->n_certs++;
        }
    }
    return rc;
}

static void *worker(void *arg)
{
    yk_device *d = arg;
    yk_manager *m = d->m;
    t_worker_dev = d;
    ykpiv_state *yk = connect_card(d->reader);
    uint32_t serial = 0;
    if (yk && ykpiv_get_serial(yk, &serial) == YKPIV_OK && serial) {
        pthread_mutex_lock(&m->lock);
        d->serial = serial;
        pthread_mutex_unlock(&m->lock);
        set_info(d, ykc_describe(yk, serial));
        pki_info("yubikey %u present in '%s'", serial, d->reader);
    } else {
        /* Not a PIV card, or gone already: keep the device so we do not retry in a loop,
         * but it never gets a serial, so nobody can submit to it. */
        pki_notice("reader '%s': no YubiKey PIV applet answered", d->reader);
        if (yk) {
            ykpiv_done(yk);
            yk = NULL;
        }
    }
    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (!d->head && !d->stop && !d->refresh)
            pthread_cond_wait(&d->cond, &m->lock);
        if (d->head) {
            job *j = d->head;
            d->head = j->next;
            if (!d->head)
                d->tail = NULL;
            bool gone = d->stop || !yk;
            pthread_mutex_unlock(&m->lock);
            int what = j->fn(gone ? NULL : yk, serial, j->ctx);
            bool changed = what != YK_SAME;
            if (changed)
                cert_cache_clear(d); /* whatever changed, nothing stale is used again */
            /* Re-read at once (only what moved), so whoever waits sees the card as the job
             * left it. */
            if (changed && !gone)
                refresh(d, yk, serial, what);
            if (j->after)
                j->after(j->after_arg, changed);
            free(j);
            pthread_mutex_lock(&m->lock);
            continue;
        }
        if (d->stop)
            break;
        if (d->refresh) {
            d->refresh = false;
            cert_cache_clear(d); /* "Reload": the operator may have changed the card elsewhere */
            if (yk) {
                pthread_mutex_unlock(&m->lock);
                json_t *info = ykc_describe(yk, serial);
                set_info(d, info);
                pthread_mutex_lock(&m->lock);
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    cert_cache_clear(d);
    t_worker_dev = NULL;
    if (yk)
        ykpiv_done(yk);
    wc_ecc_fp_free(); /* wolfCrypt's per-thread ECC point cache */
    return NULL;
}

/* Called with m->lock held. */
static yk_device *device_for_reader(yk_manager *m, const char *reader)
{
    for (yk_device *d = m->devices; d; d = d->next)
        if (strcmp(d->reader, reader) == 0)
            return d;
    return NULL;
}

static void device_add(yk_manager *m, const char *reader)
{
    yk_device *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->m = m;
    snprintf(d->reader, sizeof d->reader, "%s", reader);
    pthread_cond_init(&d->cond, NULL);
    if (pthread_create(&d->thread, NULL, worker, d) != 0) {
        pthread_cond_destroy(&d->cond);
        free(d);
        return;
    }
    pthread_mutex_lock(&m->lock);
    d->next = m->devices;
    m->devices = d;
    pthread_mutex_unlock(&m->lock);
}

/* Stops the worker (its remaining jobs see a missing card) and frees the device. */
static void device_remove(yk_manager *m, yk_device *d)
{
    pthread_mutex_lock(&m->lock);
    for (yk_device **p = &m->devices; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    d->stop = true;
    pthread_cond_signal(&d->cond);
    uint32_t serial = d->serial;
    pthread_mutex_unlock(&m->lock);
    pthread_join(d->thread, NULL);
    if (serial)
        pki_info("yubikey %u removed from '%s'", serial, d->reader);
    json_decref(d->info);
    secret_clear(&d->sign_pin);
    pthread_cond_destroy(&d->cond);
    free(d);
}

static bool reader_wanted(const yk_manager *m, const char *name)
{
    return m->filter[0] == '\0' || strstr(name, m->filter) != NULL;
}

/* One pass: list readers, wait for a change (or a timeout), then make the device list
 * match which readers hold a card. */
static void monitor_pass(yk_manager *m, SCARD_READERSTATE *states, int *n_states)
{
    char *list = NULL;
    DWORD len = 0;
    LONG rv = SCardListReaders(m->ctx, NULL, NULL, &len);
    if (rv == SCARD_S_SUCCESS && len > 0 && (list = calloc(1, len + 1)) != NULL)
        rv = SCardListReaders(m->ctx, NULL, list, &len);
    /* Rebuild the state array, keeping known states of readers that stay. */
    SCARD_READERSTATE next[MAX_READERS + 1];
    int n = 0;
    memset(next, 0, sizeof next);
    for (char *r = list; rv == SCARD_S_SUCCESS && r && *r && n < MAX_READERS; r += strlen(r) + 1) {
        if (!reader_wanted(m, r))
            continue;
        next[n].szReader = strdup(r);
        next[n].dwCurrentState = SCARD_STATE_UNAWARE;
        for (int i = 0; i < *n_states; i++)
            if (states[i].szReader && strcmp(states[i].szReader, r) == 0)
                next[n].dwCurrentState = states[i].dwCurrentState;
        n++;
    }
    free(list);
    next[n].szReader = PNP_READER;
    next[n].dwCurrentState = (DWORD)(n << 16);
    for (int i = 0; i < *n_states; i++)
        free((char *)states[i].szReader);
    memcpy(states, next, sizeof next);
    *n_states = n;

    rv = SCardGetStatusChange(m->ctx, 500, states, (DWORD)n + 1);
    if (rv != SCARD_S_SUCCESS && rv != (LONG)SCARD_E_TIMEOUT)
        return;
    for (int i = 0; i < n; i++) {
        DWORD ev = states[i].dwEventState;
        if (ev & SCARD_STATE_CHANGED)
            states[i].dwCurrentState = ev & ~(DWORD)SCARD_STATE_CHANGED;
    }
    /* Devices whose reader lost its card (or vanished) go; new cards get a worker. */
    for (;;) {
        yk_device *gone = NULL;
        pthread_mutex_lock(&m->lock);
        for (yk_device *d = m->devices; d && !gone; d = d->next) {
            bool present = false;
            for (int i = 0; i < n; i++)
                if (strcmp(states[i].szReader, d->reader) == 0)
                    present = (states[i].dwCurrentState & SCARD_STATE_PRESENT) &&
                              !(states[i].dwCurrentState & SCARD_STATE_MUTE);
            if (!present)
                gone = d;
        }
        pthread_mutex_unlock(&m->lock);
        if (!gone)
            break;
        device_remove(m, gone);
    }
    for (int i = 0; i < n; i++) {
        DWORD st = states[i].dwCurrentState;
        if (!(st & SCARD_STATE_PRESENT) || (st & SCARD_STATE_MUTE))
            continue;
        pthread_mutex_lock(&m->lock);
        bool known = device_for_reader(m, states[i].szReader) != NULL;
        pthread_mutex_unlock(&m->lock);
        if (!known)
            device_add(m, states[i].szReader);
    }
}

static void *monitor(void *arg)
{
    yk_manager *m = arg;
    SCARD_READERSTATE states[MAX_READERS + 1];
    int n_states = 0;
    memset(states, 0, sizeof states);
    bool warned = false;
    while (!m->stop) {
        if (!m->have_ctx) {
            if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &m->ctx) != SCARD_S_SUCCESS) {
                if (!warned)
                    pki_warn("PC/SC is not available (is pcscd running?); retrying");
                warned = true;
                sleep(1);
                continue;
            }
            m->have_ctx = true;
            warned = false;
        }
        monitor_pass(m, states, &n_states);
        if (SCardIsValidContext(m->ctx) != SCARD_S_SUCCESS) {
            SCardReleaseContext(m->ctx);
            m->have_ctx = false;
        }
    }
    for (int i = 0; i < n_states; i++)
        free((char *)states[i].szReader);
    return NULL;
}

yk_manager *yk_manager_start(const char *reader_filter)
{
    yk_manager *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    snprintf(m->filter, sizeof m->filter, "%s", reader_filter ? reader_filter : "");
    pthread_mutex_init(&m->lock, NULL);
    if (pthread_create(&m->monitor, NULL, monitor, m) != 0) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void yk_manager_stop(yk_manager *m)
{
    if (!m)
        return;
    m->stop = true;
    pthread_join(m->monitor, NULL);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        yk_device *d = m->devices;
        pthread_mutex_unlock(&m->lock);
        if (!d)
            break;
        device_remove(m, d);
    }
    if (m->have_ctx)
        SCardReleaseContext(m->ctx);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* A copy of the description with what only the manager knows. Called with m->lock held. */
static json_t *described(const yk_device *d)
{
    json_t *j = json_deep_copy(d->info);
    json_object_set_new(j, "signing_unlocked", json_boolean(d->sign_pin.buf != NULL));
    return j;
}

/* The present device with this serial. Called with m->lock held. */
static yk_device *device_by_serial(yk_manager *m, uint32_t serial)
{
    for (yk_device *d = m->devices; d; d = d->next)
        if (serial && d->serial == serial && !d->stop)
            return d;
    return NULL;
}

int yk_manager_keep_sign_pin(yk_manager *m, uint32_t serial, const secret *pin)
{
    pthread_mutex_lock(&m->lock);
    yk_device *d = device_by_serial(m, serial);
    int rc = d && pin->buf ? secret_set(&d->sign_pin, pin->buf, pin->len) : -1;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void yk_manager_forget_sign_pin(yk_manager *m, uint32_t serial)
{
    pthread_mutex_lock(&m->lock);
    yk_device *d = device_by_serial(m, serial);
    if (d)
        secret_clear(&d->sign_pin);
    pthread_mutex_unlock(&m->lock);
}

int yk_manager_sign_pin(yk_manager *m, uint32_t serial, secret *out)
{
    pthread_mutex_lock(&m->lock);
    yk_device *d = device_by_serial(m, serial);
    int rc = d && d->sign_pin.buf ? secret_set(out, d->sign_pin.buf, d->sign_pin.len) : -1;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

json_t *yk_manager_list(yk_manager *m)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&m->lock);
    for (yk_device *d = m->devices; d; d = d->next)
        if (d->serial && d->info)
            json_array_append_new(arr, described(d));
    pthread_mutex_unlock(&m->lock);
    return arr;
}

json_t *yk_manager_get(yk_manager *m, uint32_t serial)
{
    json_t *j = NULL;
    pthread_mutex_lock(&m->lock);
    for (yk_device *d = m->devices; d && !j; d = d->next)
        if (d->serial == serial && d->info && !d->stop)
            j = described(d);
    pthread_mutex_unlock(&m->lock);
    return j;
}

static int submit(yk_manager *m, uint32_t serial, yk_job_fn fn, void *ctx,
                  void (*after)(void *, bool), void *after_arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j || serial == 0) {
        free(j);
        return -1;
    }
    j->fn = fn;
    j->ctx = ctx;
    j->after = after;
    j->after_arg = after_arg;
    pthread_mutex_lock(&m->lock);
    yk_device *d = m->devices;
    while (d && !(d->serial == serial && !d->stop))
        d = d->next;
    if (d) {
        if (d->tail)
            d->tail->next = j;
        else
            d->head = j;
        d->tail = j;
        pthread_cond_signal(&d->cond);
    }
    pthread_mutex_unlock(&m->lock);
    if (!d) {
        free(j);
        return -1;
    }
    return 0;
}

int yk_manager_submit(yk_manager *m, uint32_t serial, yk_job_fn fn, void *ctx)
{
    return submit(m, serial, fn, ctx, NULL, NULL);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool changed;
} sync_job;

static void sync_after(void *arg, bool changed)
{
    sync_job *s = arg;
    pthread_mutex_lock(&s->lock);
    s->done = true;
    s->changed = changed;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int yk_manager_run(yk_manager *m, uint32_t serial, yk_job_fn fn, void *ctx)
{
    sync_job s = {.done = false};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    int rc = submit(m, serial, fn, ctx, sync_after, &s);
    if (rc == 0) {
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
        rc = s.changed ? 1 : 0;
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

void yk_manager_rescan(yk_manager *m)
{
    pthread_mutex_lock(&m->lock);
    for (yk_device *d = m->devices; d; d = d->next) {
        d->refresh = true;
        pthread_cond_signal(&d->cond);
    }
    pthread_mutex_unlock(&m->lock);
}
