/* Worker pool: a mutex-protected FIFO and n threads. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "log/log.h"
#include "work/work.h"

#define MAX_QUEUED 4096

typedef struct job {
    work_fn fn;
    void *arg;
    struct job *next;
} job;

struct work_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t started_cv;
    job *head, *tail;
    size_t queued;
    bool stopping;
    unsigned n, started, failed;
    pthread_t *threads;
    void *(*init)(void *app);
    void (*fini)(void *ctx);
    void *app;
};

static void *worker(void *arg)
{
    work_pool *p = arg;
    void *ctx = p->init ? p->init(p->app) : NULL;
    pthread_mutex_lock(&p->mu);
    p->started++;
    if (p->init && !ctx)
        p->failed++;
    pthread_cond_broadcast(&p->started_cv);
    if (p->init && !ctx) {
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head)
            break; /* stopping and drained */
        job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->fn(ctx, j->arg);
        free(j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->fini)
        p->fini(ctx);
#ifdef FP_ECC
    /* wolfCrypt's fixed-point ECC cache is per thread (Debian builds FP_ECC): free it here, or
     * every worker that verified or signed with ECDSA leaks it at exit. */
    wc_ecc_fp_free();
#endif
    return NULL;
}

work_pool *work_pool_new(unsigned n, void *(*init)(void *app), void (*fini)(void *ctx), void *app)
{
    work_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc(n ? n : 1, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->started_cv, NULL);
    p->init = init;
    p->fini = fini;
    p->app = app;
    for (unsigned i = 0; i < (n ? n : 1); i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
            break;
        p->n++;
    }
    pthread_mutex_lock(&p->mu);
    while (p->started < p->n)
        pthread_cond_wait(&p->started_cv, &p->mu);
    bool ok = p->n == (n ? n : 1) && p->failed == 0;
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
        pki_err("worker pool: could not start %u workers", n);
        work_pool_free(p);
        return NULL;
    }
    return p;
}

int work_submit(work_pool *p, work_fn fn, void *arg)
{
    job *j = malloc(sizeof *j);
    if (!j)
        return -1;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= MAX_QUEUED) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        return -1;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void work_pool_free(work_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    /* Jobs left only when no worker could run them (start-up failure): drop them. */
    while (p->head) {
        job *j = p->head;
        p->head = j->next;
        free(j->arg);
        free(j);
    }
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->started_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
