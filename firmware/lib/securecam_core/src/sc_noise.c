/* Noise revision 34, NN and NNpsk0 with 25519 / AESGCM / SHA256 (see sc_noise.h). */
#include "securecam/sc_noise.h"

#include <string.h>

static const char NAME_NN[] = "Noise_NN_25519_AESGCM_SHA256";
static const char NAME_NNPSK0[] = "Noise_NNpsk0_25519_AESGCM_SHA256";

/* Handshake tokens of the two patterns, per message. */
enum { TOK_END = 0, TOK_E, TOK_EE, TOK_PSK };
static const uint8_t PATTERN_NN[2][3] = {{TOK_E, TOK_END, TOK_END}, {TOK_E, TOK_EE, TOK_END}};
static const uint8_t PATTERN_NNPSK0[2][3] = {{TOK_PSK, TOK_E, TOK_END},
                                             {TOK_E, TOK_EE, TOK_END}};

void sc_noise_nonce(uint64_t n, uint8_t out[SC_AEAD_NONCE_LEN])
{
    memset(out, 0, 4);
    for (int i = 0; i < 8; i++) {
        out[4 + i] = (uint8_t)(n >> (56 - 8 * i));
    }
}

/* ------------------------------------------------------------------------- CipherState */

static int cipher_set_key(sc_cipher *c, const uint8_t key[SC_AEAD_KEY_LEN])
{
    int ret = sc_aead_set_key(&c->aead, key);
    c->n = 0;
    c->has_key = ret == SC_OK;
    return ret;
}

int sc_cipher_encrypt(sc_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                      size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (c == NULL || (in == NULL && len > 0) || out == NULL || out_len == NULL ||
        (ad == NULL && ad_len > 0)) {
        return SC_ERR_ARG;
    }
    if (!c->has_key) {
        if (out_cap < len) {
            return SC_ERR_BUFFER;
        }
        if (len > 0) {
            memmove(out, in, len);
        }
        *out_len = len;
        return SC_OK;
    }
    if (len > SIZE_MAX - SC_AEAD_TAG_LEN || out_cap < len + SC_AEAD_TAG_LEN) {
        return SC_ERR_BUFFER;
    }
    if (c->n == UINT64_MAX) {
        return SC_ERR_NONCE;
    }
    uint8_t nonce[SC_AEAD_NONCE_LEN];
    sc_noise_nonce(c->n, nonce);
    int ret = sc_aead_seal(&c->aead, nonce, ad, ad_len, in, len, out);
    if (ret != SC_OK) {
        return ret;
    }
    c->n++;
    *out_len = len + SC_AEAD_TAG_LEN;
    return SC_OK;
}

int sc_cipher_decrypt(sc_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                      size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (c == NULL || (in == NULL && len > 0) || out_len == NULL || (ad == NULL && ad_len > 0)) {
        return SC_ERR_ARG;
    }
    if (!c->has_key) {
        if (out_cap < len || (out == NULL && len > 0)) {
            return SC_ERR_BUFFER;
        }
        if (len > 0) {
            memmove(out, in, len);
        }
        *out_len = len;
        return SC_OK;
    }
    if (len < SC_AEAD_TAG_LEN) {
        return SC_ERR_AUTH;
    }
    if (out_cap < len - SC_AEAD_TAG_LEN || (out == NULL && len > SC_AEAD_TAG_LEN)) {
        return SC_ERR_BUFFER;
    }
    if (c->n == UINT64_MAX) {
        return SC_ERR_NONCE;
    }
    uint8_t nonce[SC_AEAD_NONCE_LEN];
    sc_noise_nonce(c->n, nonce);
    int ret = sc_aead_open(&c->aead, nonce, ad, ad_len, in, len, out);
    if (ret != SC_OK) {
        return ret; /* Noise rev 34 §5.1: a failed decrypt leaves the nonce where it was */
    }
    c->n++;
    *out_len = len - SC_AEAD_TAG_LEN;
    return SC_OK;
}

void sc_cipher_wipe(sc_cipher *c)
{
    if (c == NULL) {
        return;
    }
    sc_aead_free(&c->aead);
    sc_wipe(c, sizeof *c);
}

/* ---------------------------------------------------------------------- SymmetricState */

static int hkdf(const uint8_t ck[SC_NOISE_HASHLEN], const uint8_t *ikm, size_t ikm_len,
                uint8_t *out1, uint8_t *out2, uint8_t *out3)
{
    uint8_t temp[SC_NOISE_HASHLEN];
    uint8_t block[SC_NOISE_HASHLEN + 1];
    uint8_t *outs[3] = {out1, out2, out3};
    int ret = sc_hmac_sha256(ck, SC_NOISE_HASHLEN, ikm, ikm_len, temp);
    size_t prev = 0; /* bytes of the previous output in block */
    for (int i = 0; ret == SC_OK && i < 3 && outs[i] != NULL; i++) {
        block[prev] = (uint8_t)(i + 1);
        ret = sc_hmac_sha256(temp, sizeof temp, block, prev + 1, outs[i]);
        memcpy(block, outs[i], SC_NOISE_HASHLEN);
        prev = SC_NOISE_HASHLEN;
    }
    sc_wipe(temp, sizeof temp);
    sc_wipe(block, sizeof block);
    return ret;
}

static int mix_hash(sc_symmetric *ss, const uint8_t *data, size_t len)
{
    return sc_sha256_2(ss->h, sizeof ss->h, data, len, ss->h);
}

static int mix_key(sc_symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t ck[SC_NOISE_HASHLEN];
    uint8_t k[SC_AEAD_KEY_LEN];
    int ret = hkdf(ss->ck, ikm, len, ck, k, NULL);
    if (ret == SC_OK) {
        memcpy(ss->ck, ck, sizeof ck);
        ret = cipher_set_key(&ss->cipher, k);
    }
    sc_wipe(ck, sizeof ck);
    sc_wipe(k, sizeof k);
    return ret;
}

static int mix_key_and_hash(sc_symmetric *ss, const uint8_t *ikm, size_t len)
{
    uint8_t ck[SC_NOISE_HASHLEN];
    uint8_t th[SC_NOISE_HASHLEN];
    uint8_t k[SC_AEAD_KEY_LEN];
    int ret = hkdf(ss->ck, ikm, len, ck, th, k);
    if (ret == SC_OK) {
        memcpy(ss->ck, ck, sizeof ck);
        ret = mix_hash(ss, th, sizeof th);
    }
    if (ret == SC_OK) {
        ret = cipher_set_key(&ss->cipher, k);
    }
    sc_wipe(ck, sizeof ck);
    sc_wipe(th, sizeof th);
    sc_wipe(k, sizeof k);
    return ret;
}

static int encrypt_and_hash(sc_symmetric *ss, const uint8_t *in, size_t len, uint8_t *out,
                            size_t out_cap, size_t *out_len)
{
    int ret = sc_cipher_encrypt(&ss->cipher, ss->h, sizeof ss->h, in, len, out, out_cap, out_len);
    return ret == SC_OK ? mix_hash(ss, out, *out_len) : ret;
}

/* MixHash takes the ciphertext, so hash it before an in-place decryption overwrites it;
 * the associated data is the h from before. */
static int decrypt_and_hash(sc_symmetric *ss, const uint8_t *in, size_t len, uint8_t *out,
                            size_t out_cap, size_t *out_len)
{
    uint8_t h_before[SC_NOISE_HASHLEN];
    memcpy(h_before, ss->h, sizeof h_before);
    int ret = mix_hash(ss, in, len);
    if (ret == SC_OK) {
        ret = sc_cipher_decrypt(&ss->cipher, h_before, sizeof h_before, in, len, out, out_cap,
                                out_len);
    }
    return ret;
}

/* ---------------------------------------------------------------------- HandshakeState */

static const uint8_t *pattern_tokens(const sc_handshake *hs)
{
    return hs->pattern == SC_NOISE_NN ? PATTERN_NN[hs->index] : PATTERN_NNPSK0[hs->index];
}

int sc_handshake_init(sc_handshake *hs, sc_noise_pattern pattern, bool initiator,
                      const uint8_t *prologue, size_t prologue_len, const uint8_t *psk,
                      sc_rng rng)
{
    if (hs == NULL || (prologue == NULL && prologue_len > 0) || rng.fn == NULL) {
        return SC_ERR_ARG;
    }
    const bool needs_psk = pattern == SC_NOISE_NNPSK0;
    if ((pattern != SC_NOISE_NN && pattern != SC_NOISE_NNPSK0) || needs_psk != (psk != NULL)) {
        return SC_ERR_ARG;
    }
    memset(hs, 0, sizeof *hs);
    hs->pattern = pattern;
    hs->initiator = initiator;
    hs->rng = rng;
    hs->has_psk = needs_psk;
    if (needs_psk) {
        memcpy(hs->psk, psk, SC_NOISE_PSK_LEN);
    }
    /* Both names fit HASHLEN, so h is the name zero-padded, not hashed. */
    const char *name = needs_psk ? NAME_NNPSK0 : NAME_NN;
    memcpy(hs->ss.h, name, strlen(name));
    memcpy(hs->ss.ck, hs->ss.h, SC_NOISE_HASHLEN);
    int ret = mix_hash(&hs->ss, prologue, prologue_len);
    if (ret != SC_OK) {
        hs->failed = true;
    }
    return ret;
}

int sc_handshake_set_ephemeral(sc_handshake *hs, const uint8_t priv[SC_NOISE_DHLEN])
{
    if (hs == NULL || priv == NULL) {
        return SC_ERR_ARG;
    }
    if (hs->has_e || hs->failed) {
        return SC_ERR_STATE;
    }
    memcpy(hs->e_priv, priv, SC_NOISE_DHLEN);
    hs->fixed_e = true;
    return SC_OK;
}

bool sc_handshake_complete(const sc_handshake *hs)
{
    return hs != NULL && !hs->failed && hs->index >= 2;
}

const uint8_t *sc_handshake_hash(const sc_handshake *hs)
{
    return hs->ss.h;
}

static bool my_turn(const sc_handshake *hs)
{
    return hs->index < 2 && ((hs->index % 2 == 0) == hs->initiator);
}

/* The psk pattern's "e" also feeds ck, so a psk handshake never encrypts under a key that
 * lacks fresh randomness. */
static int mix_ephemeral(sc_handshake *hs, const uint8_t pub[SC_NOISE_DHLEN])
{
    int ret = mix_hash(&hs->ss, pub, SC_NOISE_DHLEN);
    if (ret == SC_OK && hs->has_psk) {
        ret = mix_key(&hs->ss, pub, SC_NOISE_DHLEN);
    }
    return ret;
}

static int mix_ee(sc_handshake *hs)
{
    uint8_t shared[SC_NOISE_DHLEN];
    int ret = sc_x25519_dh(hs->e_priv, hs->re, shared, hs->rng);
    if (ret == SC_OK) {
        ret = mix_key(&hs->ss, shared, sizeof shared);
    }
    sc_wipe(shared, sizeof shared);
    return ret;
}

static int fail(sc_handshake *hs, int ret)
{
    hs->failed = true;
    return ret;
}

int sc_handshake_write(sc_handshake *hs, const uint8_t *payload, size_t payload_len,
                       uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (hs == NULL || (payload == NULL && payload_len > 0) || out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    if (hs->failed || !my_turn(hs)) {
        return SC_ERR_STATE;
    }
    /* Checked up front so a short buffer leaves the handshake usable. Every message of both
     * patterns carries one "e"; only NN's first payload goes out without a key, so untagged. */
    const bool tagged = !(hs->index == 0 && hs->pattern == SC_NOISE_NN);
    if (payload_len > SC_NOISE_MAX_MESSAGE) {
        return SC_ERR_TOO_LONG;
    }
    size_t need = SC_NOISE_DHLEN + payload_len + (tagged ? SC_NOISE_TAGLEN : 0);
    if (need > SC_NOISE_MAX_MESSAGE) {
        return SC_ERR_TOO_LONG;
    }
    if (out_cap < need) {
        return SC_ERR_BUFFER;
    }
    size_t off = 0;
    int ret = SC_OK;
    for (const uint8_t *tok = pattern_tokens(hs); ret == SC_OK && *tok != TOK_END; tok++) {
        switch (*tok) {
        case TOK_E:
            if (!hs->fixed_e && hs->rng.fn(hs->rng.ctx, hs->e_priv, SC_NOISE_DHLEN) != 0) {
                ret = SC_ERR_CRYPTO;
                break;
            }
            ret = sc_x25519_public(hs->e_priv, hs->e_pub, hs->rng);
            if (ret == SC_OK) {
                hs->has_e = true;
                memcpy(out + off, hs->e_pub, SC_NOISE_DHLEN);
                off += SC_NOISE_DHLEN;
                ret = mix_ephemeral(hs, hs->e_pub);
            }
            break;
        case TOK_EE:
            ret = mix_ee(hs);
            break;
        case TOK_PSK:
            ret = mix_key_and_hash(&hs->ss, hs->psk, SC_NOISE_PSK_LEN);
            break;
        default:
            ret = SC_ERR_STATE;
            break;
        }
    }
    size_t written = 0;
    if (ret == SC_OK) {
        ret = encrypt_and_hash(&hs->ss, payload, payload_len, out + off, out_cap - off, &written);
    }
    if (ret != SC_OK) {
        return fail(hs, ret);
    }
    *out_len = off + written;
    hs->index++;
    return SC_OK;
}

int sc_handshake_read(sc_handshake *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                      size_t payload_cap, size_t *payload_len)
{
    if (hs == NULL || (msg == NULL && len > 0) || payload_len == NULL) {
        return SC_ERR_ARG;
    }
    if (hs->failed || hs->index >= 2 || my_turn(hs)) {
        return SC_ERR_STATE;
    }
    if (len > SC_NOISE_MAX_MESSAGE) {
        return fail(hs, SC_ERR_TOO_LONG);
    }
    size_t off = 0;
    int ret = SC_OK;
    for (const uint8_t *tok = pattern_tokens(hs); ret == SC_OK && *tok != TOK_END; tok++) {
        switch (*tok) {
        case TOK_E:
            if (len - off < SC_NOISE_DHLEN) {
                ret = SC_ERR_AUTH;
                break;
            }
            memcpy(hs->re, msg + off, SC_NOISE_DHLEN);
            off += SC_NOISE_DHLEN;
            ret = mix_ephemeral(hs, hs->re);
            break;
        case TOK_EE:
            ret = mix_ee(hs);
            break;
        case TOK_PSK:
            ret = mix_key_and_hash(&hs->ss, hs->psk, SC_NOISE_PSK_LEN);
            break;
        default:
            ret = SC_ERR_STATE;
            break;
        }
    }
    if (ret == SC_OK) {
        ret = decrypt_and_hash(&hs->ss, msg + off, len - off, payload, payload_cap, payload_len);
    }
    if (ret != SC_OK) {
        return fail(hs, ret);
    }
    hs->index++;
    return SC_OK;
}

int sc_handshake_split(sc_handshake *hs, sc_cipher *send, sc_cipher *recv,
                       uint8_t hash_out[SC_NOISE_HASHLEN])
{
    if (hs == NULL || send == NULL || recv == NULL || send == recv) {
        return SC_ERR_ARG;
    }
    if (!sc_handshake_complete(hs)) {
        return SC_ERR_STATE;
    }
    uint8_t k1[SC_AEAD_KEY_LEN];
    uint8_t k2[SC_AEAD_KEY_LEN];
    int ret = hkdf(hs->ss.ck, NULL, 0, k1, k2, NULL);
    if (ret == SC_OK) {
        ret = cipher_set_key(hs->initiator ? send : recv, k1);
    }
    if (ret == SC_OK) {
        ret = cipher_set_key(hs->initiator ? recv : send, k2);
    }
    if (ret == SC_OK && hash_out != NULL) {
        memcpy(hash_out, hs->ss.h, SC_NOISE_HASHLEN);
    }
    sc_wipe(k1, sizeof k1);
    sc_wipe(k2, sizeof k2);
    sc_handshake_wipe(hs);
    if (ret != SC_OK) {
        sc_cipher_wipe(send);
        sc_cipher_wipe(recv);
    }
    return ret;
}

void sc_handshake_wipe(sc_handshake *hs)
{
    if (hs == NULL) {
        return;
    }
    sc_cipher_wipe(&hs->ss.cipher);
    sc_wipe(hs, sizeof *hs);
    hs->failed = true; /* a wiped handshake can only be initialised again */
}
