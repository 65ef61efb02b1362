/* Outgoing frames: sealed envelopes with libwebsockets' headroom, in a FIFO (link.h). */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

link_frame *link_frame_seal(link_identity *self, const uint8_t *peer_cert, size_t peer_cert_len,
                            const link_msg *m, int *rc)
{
    uint8_t *env;
    size_t len;
    *rc = link_seal(self, peer_cert, peer_cert_len, m, &env, &len);
    if (*rc != LINK_OK)
        return NULL;
    link_frame *f = malloc(sizeof *f + LWS_PRE + len);
    if (f) {
        f->next = NULL;
        f->len = len;
        memcpy(f->data + LWS_PRE, env, len);
    } else {
        *rc = LINK_ERR_INTERNAL;
    }
    free(env);
    return f;
}

uint8_t *link_frame_payload(link_frame *f)
{
    return f->data + LWS_PRE;
}

void link_frame_push(link_frame_queue *q, link_frame *f)
{
    f->next = NULL;
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
}

link_frame *link_frame_pop(link_frame_queue *q)
{
    link_frame *f = q->head;
    if (f && !(q->head = f->next))
        q->tail = NULL;
    return f;
}

void link_frame_queue_clear(link_frame_queue *q)
{
    link_frame *f;
    while ((f = link_frame_pop(q)))
        free(f);
}
