/* A small worker pool (ARCHITECTURE decision 5): blocking work (password hashing, database
 * writes, key generation, signing) runs here, never on the event loop. Each worker owns a
 * per-thread context made by init (the relay gives every worker its own store handle). */
#ifndef RELAY_WORK_H
#define RELAY_WORK_H

#include <stddef.h>

typedef struct work_pool work_pool;
/* fn runs on a worker with that worker's context; it owns arg. */
typedef void (*work_fn)(void *thread_ctx, void *arg);

/* Starts n workers. init(app) runs on each new thread and returns its context (NULL = the
 * worker fails to start; work_pool_new then fails); fini(ctx) runs when it stops. */
work_pool *work_pool_new(unsigned n, void *(*init)(void *app), void (*fini)(void *ctx), void *app);
/* Queues a job. -1 when the queue is full (max_queued) or the pool is stopping. */
int work_submit(work_pool *p, work_fn fn, void *arg);
/* Runs every queued job to completion, then stops and frees the pool. */
void work_pool_free(work_pool *p);

#endif
