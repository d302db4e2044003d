/* Noise layer: the published vectors (NN and NNpsk0, every message and the handshake hash),
 * RFC 7748 X25519, nonces, failures and wiping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_test.h"
#include "sc_vectors.h"
#include "securecam/sc_crypto.h"
#include "securecam/sc_noise.h"

/* sc_test_rng: only X25519 blinding and non-vector ephemerals use it. */
static uint64_t rng_state = 1;
static const sc_rng RNG = {sc_test_rng, &rng_state};

static int failing_rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return -1;
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
}

static void run_vector(const sc_vec *v)
{
    sc_handshake init;
    sc_handshake resp;
    CHECK(sc_handshake_init(&init, v->pattern, true, v->init_prologue, v->init_prologue_len,
                            v->init_psk, RNG) == SC_OK);
    CHECK(sc_handshake_init(&resp, v->pattern, false, v->resp_prologue, v->resp_prologue_len,
                            v->resp_psk, RNG) == SC_OK);
    CHECK(sc_handshake_set_ephemeral(&init, v->init_ephemeral) == SC_OK);
    CHECK(sc_handshake_set_ephemeral(&resp, v->resp_ephemeral) == SC_OK);

    static uint8_t msg[SC_NOISE_MAX_MESSAGE];
    static uint8_t payload[SC_NOISE_MAX_MESSAGE];
    size_t len = 0;
    size_t plen = 0;
    for (size_t i = 0; i < 2; i++) {
        sc_handshake *writer = i % 2 == 0 ? &init : &resp;
        sc_handshake *reader = i % 2 == 0 ? &resp : &init;
        const sc_vec_message *m = &v->messages[i];
        CHECK(sc_handshake_write(writer, m->payload, m->payload_len, msg, sizeof msg, &len) ==
              SC_OK);
        CHECK(len == m->ciphertext_len);
        CHECK_MEM(msg, m->ciphertext, m->ciphertext_len);
        CHECK(sc_handshake_read(reader, msg, len, payload, sizeof payload, &plen) == SC_OK);
        CHECK(plen == m->payload_len);
        CHECK_MEM(payload, m->payload, m->payload_len);
    }
    CHECK(sc_handshake_complete(&init));
    CHECK(sc_handshake_complete(&resp));
    CHECK_MEM(sc_handshake_hash(&init), v->handshake_hash, SC_NOISE_HASHLEN);
    CHECK_MEM(sc_handshake_hash(&resp), v->handshake_hash, SC_NOISE_HASHLEN);

    sc_cipher init_send = {0}, init_recv = {0}, resp_send = {0}, resp_recv = {0};
    uint8_t hash[SC_NOISE_HASHLEN];
    CHECK(sc_handshake_split(&init, &init_send, &init_recv, hash) == SC_OK);
    CHECK_MEM(hash, v->handshake_hash, sizeof hash);
    CHECK(sc_handshake_split(&resp, &resp_send, &resp_recv, NULL) == SC_OK);
    /* Split wipes the handshake: no psk, ephemeral or chaining key survives. */
    static const uint8_t zero[SC_NOISE_DHLEN];
    CHECK_MEM(init.e_priv, zero, sizeof zero);
    CHECK_MEM(init.psk, zero, sizeof zero);
    CHECK_MEM(init.ss.ck, zero, sizeof zero);
    CHECK(!sc_handshake_complete(&init));

    for (size_t i = 2; i < v->message_count; i++) {
        sc_cipher *send = i % 2 == 0 ? &init_send : &resp_send;
        sc_cipher *recv = i % 2 == 0 ? &resp_recv : &init_recv;
        const sc_vec_message *m = &v->messages[i];
        CHECK(sc_cipher_encrypt(send, NULL, 0, m->payload, m->payload_len, msg, sizeof msg,
                                &len) == SC_OK);
        CHECK(len == m->ciphertext_len);
        CHECK_MEM(msg, m->ciphertext, m->ciphertext_len);
        /* decrypt in place, as the session does */
        CHECK(sc_cipher_decrypt(recv, NULL, 0, msg, len, msg, len, &plen) == SC_OK);
        CHECK(plen == m->payload_len);
        CHECK_MEM(msg, m->payload, m->payload_len);
    }
    CHECK(init_send.n == (v->message_count - 1) / 2);
    sc_cipher_wipe(&init_send);
    sc_cipher_wipe(&init_recv);
    sc_cipher_wipe(&resp_send);
    sc_cipher_wipe(&resp_recv);
    CHECK(init_send.aead.impl == NULL && !init_send.has_key);
}

static void test_published_vectors(void)
{
    CHECK(SC_VECTOR_COUNT == 2);
    bool seen_nn = false, seen_psk = false;
    for (size_t i = 0; i < SC_VECTOR_COUNT; i++) {
        seen_nn |= sc_vectors[i].pattern == SC_NOISE_NN;
        seen_psk |= sc_vectors[i].pattern == SC_NOISE_NNPSK0;
        CHECK(sc_vectors[i].message_count == 6);
        run_vector(&sc_vectors[i]);
    }
    CHECK(seen_nn && seen_psk);
}

static void test_x25519_rfc7748(void)
{
    uint8_t a_priv[32], b_priv[32], a_pub[32], b_pub[32], want[32], out[32], shared[32];
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a_priv, 32);
    unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b_priv, 32);
    unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b_pub, 32);
    unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
    CHECK(sc_x25519_public(a_priv, out, RNG) == SC_OK);
    CHECK_MEM(out, a_pub, 32);
    CHECK(sc_x25519_public(b_priv, out, RNG) == SC_OK);
    CHECK_MEM(out, b_pub, 32);
    CHECK(sc_x25519_dh(a_priv, b_pub, shared, RNG) == SC_OK);
    CHECK_MEM(shared, want, 32);
    CHECK(sc_x25519_dh(b_priv, a_pub, shared, RNG) == SC_OK);
    CHECK_MEM(shared, want, 32);

    /* Low-order points (0, 1, and p - 1) must be refused, never yield a predictable secret. */
    uint8_t bad[32] = {0};
    CHECK(sc_x25519_dh(a_priv, bad, shared, RNG) == SC_ERR_KEY);
    bad[0] = 1;
    CHECK(sc_x25519_dh(a_priv, bad, shared, RNG) == SC_ERR_KEY);
    memset(bad, 0xff, sizeof bad);
    bad[0] = 0xec;
    bad[31] = 0x7f;
    CHECK(sc_x25519_dh(a_priv, bad, shared, RNG) == SC_ERR_KEY);
}

static void test_primitives(void)
{
    /* SHA-256("abc") split over both parts, and HMAC-SHA-256 of RFC 4231 case 2. */
    uint8_t digest[32], want[32];
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    CHECK(sc_sha256_2((const uint8_t *)"a", 1, (const uint8_t *)"bc", 2, digest) == SC_OK);
    CHECK_MEM(digest, want, 32);
    CHECK(sc_sha256_2(NULL, 0, (const uint8_t *)"abc", 3, digest) == SC_OK);
    CHECK_MEM(digest, want, 32);
    unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, 32);
    CHECK(sc_hmac_sha256((const uint8_t *)"Jefe", 4,
                         (const uint8_t *)"what do ya want for nothing?", 28, digest) == SC_OK);
    CHECK_MEM(digest, want, 32);
}

static void test_nonce_and_cipher_limits(void)
{
    uint8_t nonce[12];
    static const uint8_t want[12] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    sc_noise_nonce(0x0102030405060708ull, nonce);
    CHECK_MEM(nonce, want, sizeof want);

    uint8_t key[32];
    memset(key, 7, sizeof key);
    sc_cipher send = {0}, recv = {0};
    CHECK(sc_aead_set_key(&send.aead, key) == SC_OK);
    CHECK(sc_aead_set_key(&recv.aead, key) == SC_OK);
    send.has_key = recv.has_key = true;
    uint8_t buf[64];
    size_t len = 0;

    /* A buffer too small is refused without consuming the nonce. */
    CHECK(sc_cipher_encrypt(&send, NULL, 0, (const uint8_t *)"hello", 5, buf, 20, &len) ==
          SC_ERR_BUFFER);
    CHECK(send.n == 0);

    /* n = 2^64 - 1 is reserved: the last usable nonce is 2^64 - 2. */
    send.n = recv.n = UINT64_MAX - 1;
    CHECK(sc_cipher_encrypt(&send, NULL, 0, (const uint8_t *)"hello", 5, buf, sizeof buf, &len) ==
          SC_OK);
    CHECK(len == 21);
    CHECK(sc_cipher_encrypt(&send, NULL, 0, (const uint8_t *)"hello", 5, buf, sizeof buf, &len) ==
          SC_ERR_NONCE);
    CHECK(send.n == UINT64_MAX);
    size_t plen = 0;
    uint8_t plain[16];
    CHECK(sc_cipher_encrypt(&send, NULL, 0, NULL, 0, buf, sizeof buf, &len) == SC_ERR_NONCE);

    /* Tampering and a too-short message fail authentication. */
    send.n = recv.n = 5;
    CHECK(sc_cipher_encrypt(&send, NULL, 0, (const uint8_t *)"hello", 5, buf, sizeof buf, &len) ==
          SC_OK);
    buf[2] ^= 1;
    CHECK(sc_cipher_decrypt(&recv, NULL, 0, buf, len, plain, sizeof plain, &plen) ==
          SC_ERR_AUTH);
    CHECK(sc_cipher_decrypt(&recv, NULL, 0, buf, 15, plain, sizeof plain, &plen) ==
          SC_ERR_AUTH);
    /* Neither failure consumed the nonce: the genuine message still opens (Noise §5.1). */
    CHECK(recv.n == 5);
    buf[2] ^= 1;
    CHECK(sc_cipher_decrypt(&recv, NULL, 0, buf, len, plain, sizeof plain, &plen) == SC_OK);
    CHECK(plen == 5 && memcmp(plain, "hello", 5) == 0 && recv.n == 6);
    sc_cipher_wipe(&send);
    sc_cipher_wipe(&recv);
    sc_cipher_wipe(&recv); /* idempotent */
}

static void handshake_pair(sc_handshake *init, sc_handshake *resp, const uint8_t *psk_i,
                           const uint8_t *psk_r)
{
    static const uint8_t prologue[] = "SCAM\x01\x01\x04" "cam1";
    CHECK(sc_handshake_init(init, SC_NOISE_NNPSK0, true, prologue, sizeof prologue - 1, psk_i,
                            RNG) == SC_OK);
    CHECK(sc_handshake_init(resp, SC_NOISE_NNPSK0, false, prologue, sizeof prologue - 1, psk_r,
                            RNG) == SC_OK);
}

static void test_handshake_failures(void)
{
    uint8_t psk[32], other[32], msg[128], payload[16];
    memset(psk, 0x11, sizeof psk);
    memset(other, 0x22, sizeof other);
    size_t len = 0, plen = 0;
    sc_handshake init, resp;

    /* Wrong psk: message 1 does not verify. */
    handshake_pair(&init, &resp, psk, other);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(len == 48);
    CHECK(sc_handshake_read(&resp, msg, len, payload, sizeof payload, &plen) == SC_ERR_AUTH);
    CHECK(sc_handshake_write(&resp, NULL, 0, msg, sizeof msg, &len) == SC_ERR_STATE);
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);

    /* Tampered message 2, truncated message 1, and turn order. */
    handshake_pair(&init, &resp, psk, psk);
    CHECK(sc_handshake_read(&init, msg, 48, NULL, 0, &plen) == SC_ERR_STATE);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, 47, &len) == SC_ERR_BUFFER); /* still usable */
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_ERR_STATE);
    CHECK(sc_handshake_read(&resp, msg, len, NULL, 0, &plen) == SC_OK);
    CHECK(plen == 0);
    CHECK(sc_handshake_write(&resp, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    msg[40] ^= 0x80;
    CHECK(sc_handshake_read(&init, msg, len, NULL, 0, &plen) == SC_ERR_AUTH);
    CHECK(!sc_handshake_complete(&init));
    sc_cipher a = {0}, b = {0};
    CHECK(sc_handshake_split(&init, &a, &b, NULL) == SC_ERR_STATE);
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);

    handshake_pair(&init, &resp, psk, psk);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_read(&resp, msg, 47, NULL, 0, &plen) == SC_ERR_AUTH);
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);
    handshake_pair(&init, &resp, psk, psk); /* re-init after wipe */
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_read(&resp, msg, 20, NULL, 0, &plen) == SC_ERR_AUTH); /* short "e" */
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);
    handshake_pair(&init, &resp, psk, psk);
    static uint8_t big[SC_NOISE_MAX_MESSAGE + 1];
    CHECK(sc_handshake_read(&resp, big, sizeof big, NULL, 0, &plen) == SC_ERR_TOO_LONG);
    /* A payload that does not fit the caller's buffer fails the read (the tag is checked with
     * the ciphertext hashed, so there is no going back). */
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);
    handshake_pair(&init, &resp, psk, psk);
    CHECK(sc_handshake_write(&init, (const uint8_t *)"hi", 2, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_read(&resp, msg, len, NULL, 0, &plen) == SC_ERR_BUFFER);
    sc_handshake_wipe(&init);
    sc_handshake_wipe(&resp);

    /* Argument checks: psk iff the pattern needs one; an RNG failure is reported. */
    CHECK(sc_handshake_init(&init, SC_NOISE_NNPSK0, true, NULL, 0, NULL, RNG) == SC_ERR_ARG);
    CHECK(sc_handshake_init(&init, SC_NOISE_NN, true, NULL, 0, psk, RNG) == SC_ERR_ARG);
    sc_rng broken = {failing_rng, NULL};
    CHECK(sc_handshake_init(&init, SC_NOISE_NN, true, NULL, 0, NULL, broken) == SC_OK);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_ERR_CRYPTO);
    sc_handshake_wipe(&init);
}

static void test_fresh_ephemerals_agree(void)
{
    uint8_t psk[32], msg[128];
    memset(psk, 0x33, sizeof psk);
    size_t len = 0, plen = 0;
    sc_handshake init, resp;
    handshake_pair(&init, &resp, psk, psk);
    CHECK(sc_handshake_write(&init, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_read(&resp, msg, len, NULL, 0, &plen) == SC_OK);
    CHECK(sc_handshake_write(&resp, NULL, 0, msg, sizeof msg, &len) == SC_OK);
    CHECK(sc_handshake_read(&init, msg, len, NULL, 0, &plen) == SC_OK);
    CHECK_MEM(sc_handshake_hash(&init), sc_handshake_hash(&resp), SC_NOISE_HASHLEN);
    sc_cipher is = {0}, ir = {0}, rs = {0}, rr = {0};
    CHECK(sc_handshake_split(&init, &is, &ir, NULL) == SC_OK);
    CHECK(sc_handshake_split(&resp, &rs, &rr, NULL) == SC_OK);
    uint8_t buf[64];
    memcpy(buf, "ping", 4);
    CHECK(sc_cipher_encrypt(&rs, NULL, 0, buf, 4, buf, sizeof buf, &len) == SC_OK); /* in place */
    CHECK(sc_cipher_decrypt(&ir, NULL, 0, buf, len, buf, sizeof buf, &plen) == SC_OK);
    CHECK(plen == 4 && memcmp(buf, "ping", 4) == 0);
    sc_cipher_wipe(&is);
    sc_cipher_wipe(&ir);
    sc_cipher_wipe(&rs);
    sc_cipher_wipe(&rr);
}

int main(void)
{
    RUN(test_published_vectors);
    RUN(test_x25519_rfc7748);
    RUN(test_primitives);
    RUN(test_nonce_and_cipher_limits);
    RUN(test_handshake_failures);
    RUN(test_fresh_ephemerals_agree);
    return TEST_REPORT();
}
