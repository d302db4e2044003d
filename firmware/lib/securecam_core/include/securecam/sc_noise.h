/* Noise protocol framework (revision 34): Noise_NN and Noise_NNpsk0 with 25519, AESGCM,
 * SHA256, initiator and responder. Sans-I/O: bytes in, bytes out, caller-provided buffers.
 *
 * Contracts:
 * - every function returns SC_OK or a negative sc_err (sc_crypto.h);
 * - a handshake that failed (any error from write/read) is dead: only sc_handshake_wipe is
 *   allowed afterwards;
 * - every sc_handshake and sc_cipher must end with its wipe function, which frees the
 *   backend's AES contexts and zeroes all secrets (safe on a zeroed or already wiped object).
 */
#ifndef SECURECAM_SC_NOISE_H
#define SECURECAM_SC_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securecam/sc_crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_NOISE_MAX_MESSAGE 65535u
#define SC_NOISE_DHLEN 32u
#define SC_NOISE_HASHLEN 32u
#define SC_NOISE_PSK_LEN 32u
#define SC_NOISE_TAGLEN 16u

typedef enum {
    SC_NOISE_NN = 0,     /* -> e; <- e, ee */
    SC_NOISE_NNPSK0 = 1, /* -> psk, e; <- e, ee (SecureCam's pattern) */
} sc_noise_pattern;

/* AES-256-GCM with the implicit Noise nonce: 4 zero bytes || 64-bit big-endian counter n. */
typedef struct {
    sc_aead aead;
    uint64_t n;
    bool has_key;
} sc_cipher;

/* Encrypt `len` bytes from `in` into `out` (len + 16 bytes when keyed, len when not: a keyless
 * cipher copies). `out` may equal `in`. SC_ERR_BUFFER when out_cap is too small and
 * SC_ERR_NONCE when n reached 2^64 - 1: in both cases n is unchanged. n advances on success. */
int sc_cipher_encrypt(sc_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                      size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Decrypt `len` bytes (ciphertext || tag) into `out` (len - 16 bytes). `out` may equal `in`.
 * SC_ERR_AUTH on a bad tag. n advances even on SC_ERR_AUTH: a failed decryption is fatal to
 * the session, never a reason to retry. */
int sc_cipher_decrypt(sc_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                      size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

void sc_cipher_wipe(sc_cipher *c);

typedef struct {
    uint8_t ck[SC_NOISE_HASHLEN];
    uint8_t h[SC_NOISE_HASHLEN];
    sc_cipher cipher;
} sc_symmetric;

typedef struct {
    sc_symmetric ss;
    sc_rng rng;
    uint8_t psk[SC_NOISE_PSK_LEN];
    uint8_t e_priv[SC_NOISE_DHLEN];
    uint8_t e_pub[SC_NOISE_DHLEN];
    uint8_t re[SC_NOISE_DHLEN];
    sc_noise_pattern pattern;
    uint8_t index; /* next handshake message, 0 or 1; 2 = complete */
    bool initiator;
    bool has_psk;
    bool has_e;
    bool fixed_e; /* e_priv injected by sc_handshake_set_ephemeral */
    bool failed;
} sc_handshake;

/* Start a handshake: h = protocol name, ck = h, MixHash(prologue). `psk` (32 bytes) is
 * required for NNPSK0 and must be NULL for NN; it is copied. `rng` supplies the ephemeral key
 * (exactly one 32-byte request, made by the write of this side's "e") and X25519 blinding. */
int sc_handshake_init(sc_handshake *hs, sc_noise_pattern pattern, bool initiator,
                      const uint8_t *prologue, size_t prologue_len, const uint8_t *psk,
                      sc_rng rng);

/* Test vectors only: use this private key instead of drawing the ephemeral from the RNG.
 * Call before this side writes its "e". */
int sc_handshake_set_ephemeral(sc_handshake *hs, const uint8_t priv[SC_NOISE_DHLEN]);

/* This side's next handshake message with `payload`; the message is at most 65535 bytes.
 * SC_ERR_STATE when it is not this side's turn. */
int sc_handshake_write(sc_handshake *hs, const uint8_t *payload, size_t payload_len,
                       uint8_t *out, size_t out_cap, size_t *out_len);

/* Read the peer's next handshake message; its payload goes to `payload` (may be NULL when
 * payload_cap is 0 and an empty payload is expected). SC_ERR_AUTH when the tag does not
 * verify, SC_ERR_KEY for an invalid ephemeral, SC_ERR_TOO_LONG over 65535 bytes,
 * SC_ERR_AUTH too for a message shorter than its keys and tag. */
int sc_handshake_read(sc_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                      size_t payload_cap, size_t *payload_len);

bool sc_handshake_complete(const sc_handshake *hs);

/* The current handshake hash h (after the last message: the channel-binding value). */
const uint8_t *sc_handshake_hash(const sc_handshake *hs);

/* After the last message: derive the transport ciphers (send, recv) for this side, copy the
 * handshake hash to `hash_out` when non-NULL, then wipe the handshake (ck, h, keys, psk).
 * `send` and `recv` are overwritten (wipe any previous keys first). */
int sc_handshake_split(sc_handshake *hs, sc_cipher *send, sc_cipher *recv,
                       uint8_t hash_out[SC_NOISE_HASHLEN]);

void sc_handshake_wipe(sc_handshake *hs);

/* The 12-byte AES-GCM nonce for counter n (exposed for tests and the protocol doc). */
void sc_noise_nonce(uint64_t n, uint8_t out[SC_AEAD_NONCE_LEN]);

#ifdef __cplusplus
}
#endif

#endif
