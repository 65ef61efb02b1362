/* lib/link internal: the sender's ephemeral ECDH keys for sealing (ephemeral.c). Not part of
 * the link interface (link.h).
 *
 * Each envelope's key agreement is ephemeral-static ECDH P-256 (RFC 5753). Without SP P-256
 * code in Debian's wolfSSL, the recipient's scalar multiplication on a point it has not seen
 * costs ~0.5 ms, once per message on each side of every signature; on a point it has seen, its
 * fixed-point cache makes it ~0.08 ms. So a sender keeps one ephemeral key per recipient for at
 * most LINK_EPHEMERAL_MAX_AGE seconds and LINK_EPHEMERAL_MAX_USES messages, and every envelope
 * carries fresh random user keying material (ukm), so that each message still gets a key-
 * encryption key of its own. The decision and what it costs are in docs/design.md. */
#ifndef PKI_LINK_EPHEMERAL_H
#define PKI_LINK_EPHEMERAL_H

#include <stddef.h>
#include <stdint.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/cryptocb.h>

#define LINK_EPHEMERAL_MAX_AGE 60
#define LINK_EPHEMERAL_MAX_USES 1000

/* Names the recipient whose ephemeral key the calling thread's next key generation (by
 * wolfSSL's KARI code, through the crypto-callback device) gets. 0, or -1 on error. */
int link_ephemeral_begin(const uint8_t *peer_cert, size_t peer_cert_len);
void link_ephemeral_end(void);

/* The crypto-callback device's EC key generation: fills info->pk.eckg.key with the current
 * recipient's ephemeral key (made anew when none is kept, or it is too old or used up).
 * CRYPTOCB_UNAVAILABLE outside begin/end or for a curve other than P-256. */
int link_ephemeral_keygen(wc_CryptoInfo *info);

/* The crypto-callback device's ECDH: the secret of a pair of P-256 points agreed before, when
 * it is remembered (up to 2 x LINK_EPHEMERAL_MAX_AGE seconds, 64 pairs), else wolfCrypt's own
 * agreement, then remembered. With a kept ephemeral key the same pair meets once per message on
 * both sides; the scalar multiplication (~0.07-0.09 ms) is then made once per key instead. Each
 * message's key-encryption key still differs: the KDF takes the message's random ukm.
 * CRYPTOCB_UNAVAILABLE (wolfCrypt computes it) for keys without both public points. */
int link_ephemeral_ecdh(wc_CryptoInfo *info);

/* Forgets every kept ephemeral key and agreed secret (wiped), so the next message to anyone gets
 * a new key. */
void link_ephemeral_forget_all(void);

#endif
