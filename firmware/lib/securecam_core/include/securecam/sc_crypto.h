/* Crypto primitives of the SecureCam core: X25519, AES-256-GCM, SHA-256, HMAC-SHA-256.
 *
 * This header is backend-neutral; src/sc_crypto_mbedtls.c is the only file that includes
 * mbedTLS. It also defines the status codes shared by every layer of the core.
 *
 * Contracts common to every function here:
 * - returns SC_OK (0) or a negative sc_err; outputs are unspecified after an error;
 * - pointers must be non-NULL unless a length of 0 makes them unused;
 * - no function keeps a pointer to its arguments after returning.
 */
#ifndef SECURECAM_SC_CRYPTO_H
#define SECURECAM_SC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Values below SC_ERR_PROTOCOL_BASE are reserved for the protocol layer. */
typedef enum {
    SC_OK = 0,
    SC_ERR_ARG = -1,        /* invalid argument: NULL, bad length, out-of-range value */
    SC_ERR_BUFFER = -2,     /* the caller's output buffer is too small; nothing consumed */
    SC_ERR_STATE = -3,      /* call not allowed in the current state */
    SC_ERR_CRYPTO = -4,     /* backend failure (allocation, RNG, internal error) */
    SC_ERR_AUTH = -5,       /* AEAD tag did not verify: wrong key, tampered, replayed */
    SC_ERR_KEY = -6,        /* invalid X25519 public key or all-zero shared secret */
    SC_ERR_NONCE = -7,      /* nonce counter exhausted (2^64 - 1 is never used) */
    SC_ERR_TOO_LONG = -8,   /* message or payload over a protocol size limit */
    SC_ERR_PROTOCOL_BASE = -16
} sc_err;

#define SC_X25519_LEN 32
#define SC_SHA256_LEN 32
#define SC_AEAD_KEY_LEN 32
#define SC_AEAD_NONCE_LEN 12
#define SC_AEAD_TAG_LEN 16

/* Random source: fill `buf` with `len` cryptographically secure bytes, return 0 on success.
 * Same signature as mbedTLS's f_rng, so esp_fill_random wrappers and CTR-DRBG both fit. */
typedef int (*sc_rng_fn)(void *ctx, unsigned char *buf, size_t len);
typedef struct {
    sc_rng_fn fn;
    void *ctx;
} sc_rng;

/* Overwrite memory in a way the compiler cannot elide. */
void sc_wipe(void *buf, size_t len);

/* SHA-256(a || b); either part may be empty. */
int sc_sha256_2(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                uint8_t out[SC_SHA256_LEN]);

/* HMAC-SHA-256(key, data). */
int sc_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
                   uint8_t out[SC_SHA256_LEN]);

/* X25519 (RFC 7748). Keys and secrets are opaque 32-byte little-endian strings; the private
 * key is clamped internally, so any 32 bytes are a valid private key. `rng` only feeds the
 * backend's side-channel blinding: it never changes a result. */
int sc_x25519_public(const uint8_t priv[SC_X25519_LEN], uint8_t pub[SC_X25519_LEN], sc_rng rng);

/* shared = X25519(priv, peer_pub). SC_ERR_KEY for a low-order or otherwise invalid peer key
 * and for an all-zero result. */
int sc_x25519_dh(const uint8_t priv[SC_X25519_LEN], const uint8_t peer_pub[SC_X25519_LEN],
                 uint8_t shared[SC_X25519_LEN], sc_rng rng);

/* AES-256-GCM with a 12-byte nonce and 16-byte tag.
 * A zero-initialised sc_aead is "no key". sc_aead_set_key allocates the backend context
 * (once; later calls rekey in place), so call it at handshake time, not per message.
 * Seal and open never allocate. sc_aead_free releases and wipes it; safe to repeat. */
typedef struct {
    void *impl;
} sc_aead;

int sc_aead_set_key(sc_aead *aead, const uint8_t key[SC_AEAD_KEY_LEN]);
void sc_aead_free(sc_aead *aead);

/* out (len + 16 bytes) = ciphertext || tag. `out` may equal `in` (in place) but must not
 * overlap it otherwise. */
int sc_aead_seal(sc_aead *aead, const uint8_t nonce[SC_AEAD_NONCE_LEN], const uint8_t *ad,
                 size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

/* in = ciphertext || tag (len >= 16); out receives len - 16 bytes. SC_ERR_AUTH when the tag
 * does not verify (compared in constant time by the backend; `out` is then zeroed).
 * `out` may equal `in`. */
int sc_aead_open(sc_aead *aead, const uint8_t nonce[SC_AEAD_NONCE_LEN], const uint8_t *ad,
                 size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
