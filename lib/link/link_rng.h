/* lib/link internal: one wolfCrypt RNG per thread, so sealing needs no lock and no RNG is
 * instantiated (and health-tested) per message. Not part of the link interface (link.h). */
#ifndef PKI_LINK_RNG_H
#define PKI_LINK_RNG_H

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>

/* The calling thread's RNG (made on first use, freed when the thread ends, made anew in a
 * forked child), or NULL when it cannot be instantiated. Use it on this thread only. */
WC_RNG *link_thread_rng(void);

#endif
