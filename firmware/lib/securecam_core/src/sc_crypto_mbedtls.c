/* sc_crypto.h on mbedTLS 2.28 / 3.x: the only file of the core that includes mbedTLS. */
#include "securecam/sc_crypto.h"

#include "securecam/sc_mbedtls_compat.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <string.h>

void sc_wipe(void *buf, size_t len)
{
    if (buf != NULL && len > 0) {
        mbedtls_platform_zeroize(buf, len);
    }
}

int sc_sha256_2(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                uint8_t out[SC_SHA256_LEN])
{
    if ((a == NULL && a_len > 0) || (b == NULL && b_len > 0) || out == NULL) {
        return SC_ERR_ARG;
    }
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    int ret = sc_mbedtls_sha256_starts(&ctx);
    if (ret == 0 && a_len > 0) {
        ret = sc_mbedtls_sha256_update(&ctx, a, a_len);
    }
    if (ret == 0 && b_len > 0) {
        ret = sc_mbedtls_sha256_update(&ctx, b, b_len);
    }
    if (ret == 0) {
        ret = sc_mbedtls_sha256_finish(&ctx, out);
    }
    mbedtls_sha256_free(&ctx); /* zeroizes the context */
    return ret == 0 ? SC_OK : SC_ERR_CRYPTO;
}

int sc_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
                   uint8_t out[SC_SHA256_LEN])
{
    static const uint8_t empty[1] = {0};
    if ((key == NULL && key_len > 0) || (data == NULL && data_len > 0) || out == NULL) {
        return SC_ERR_ARG;
    }
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (info == NULL) {
        return SC_ERR_CRYPTO;
    }
    /* Some backends dereference the input pointer even for zero lengths. */
    int ret = mbedtls_md_hmac(info, key_len > 0 ? key : empty, key_len,
                              data_len > 0 ? data : empty, data_len, out);
    return ret == 0 ? SC_OK : SC_ERR_CRYPTO;
}

/* ------------------------------------------------------------------------------ X25519 */

/* RFC 7748 decodeScalar25519: mbedTLS rejects unclamped Montgomery scalars instead. */
static int load_scalar(mbedtls_mpi *d, const uint8_t priv[SC_X25519_LEN])
{
    uint8_t k[SC_X25519_LEN];
    memcpy(k, priv, sizeof k);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    int ret = mbedtls_mpi_read_binary_le(d, k, sizeof k);
    sc_wipe(k, sizeof k);
    return ret;
}

/* out = X25519(priv, point), where point is the peer's key or NULL for the base point. */
static int x25519(const uint8_t priv[SC_X25519_LEN], const uint8_t *point,
                  uint8_t out[SC_X25519_LEN], sc_rng rng)
{
    if (priv == NULL || out == NULL || rng.fn == NULL) {
        return SC_ERR_ARG;
    }
    mbedtls_ecp_group grp;
    mbedtls_ecp_point peer;
    mbedtls_ecp_point result;
    mbedtls_mpi d;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&peer);
    mbedtls_ecp_point_init(&result);
    mbedtls_mpi_init(&d);

    int status = SC_ERR_CRYPTO;
    size_t written = 0;
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519) != 0 ||
        load_scalar(&d, priv) != 0) {
        goto done;
    }
    const mbedtls_ecp_point *base = &grp.G; /* G is a public field in 2.x and 3.x */
    if (point != NULL) {
        /* Montgomery points are the bare little-endian u-coordinate (top bit masked). */
        if (mbedtls_ecp_point_read_binary(&grp, &peer, point, SC_X25519_LEN) != 0 ||
            mbedtls_ecp_check_pubkey(&grp, &peer) != 0) {
            status = SC_ERR_KEY;
            goto done;
        }
        base = &peer;
    }
    int ret = mbedtls_ecp_mul(&grp, &result, &d, base, rng.fn, rng.ctx);
    if (ret == MBEDTLS_ERR_ECP_INVALID_KEY) {
        status = SC_ERR_KEY;
        goto done;
    }
    if (ret != 0 ||
        mbedtls_ecp_point_write_binary(&grp, &result, MBEDTLS_ECP_PF_UNCOMPRESSED, &written, out,
                                       SC_X25519_LEN) != 0 ||
        written != SC_X25519_LEN) {
        goto done;
    }
    status = SC_OK;

done:
    mbedtls_mpi_free(&d); /* mbedTLS zeroizes MPI limbs on free */
    mbedtls_ecp_point_free(&result);
    mbedtls_ecp_point_free(&peer);
    mbedtls_ecp_group_free(&grp);
    if (status != SC_OK) {
        sc_wipe(out, SC_X25519_LEN);
    }
    return status;
}

int sc_x25519_public(const uint8_t priv[SC_X25519_LEN], uint8_t pub[SC_X25519_LEN], sc_rng rng)
{
    return x25519(priv, NULL, pub, rng);
}

int sc_x25519_dh(const uint8_t priv[SC_X25519_LEN], const uint8_t peer_pub[SC_X25519_LEN],
                 uint8_t shared[SC_X25519_LEN], sc_rng rng)
{
    if (peer_pub == NULL) {
        return SC_ERR_ARG;
    }
    int status = x25519(priv, peer_pub, shared, rng);
    if (status != SC_OK) {
        return status;
    }
    /* Low-order points are refused above already; this is the RFC 7748 belt and braces. */
    uint8_t acc = 0;
    for (size_t i = 0; i < SC_X25519_LEN; i++) {
        acc |= shared[i];
    }
    return acc == 0 ? SC_ERR_KEY : SC_OK;
}

/* ------------------------------------------------------------------------- AES-256-GCM */

int sc_aead_set_key(sc_aead *aead, const uint8_t key[SC_AEAD_KEY_LEN])
{
    if (aead == NULL || key == NULL) {
        return SC_ERR_ARG;
    }
    if (aead->impl == NULL) {
        mbedtls_gcm_context *gcm = mbedtls_calloc(1, sizeof *gcm);
        if (gcm == NULL) {
            return SC_ERR_CRYPTO;
        }
        mbedtls_gcm_init(gcm);
        aead->impl = gcm;
    }
    if (mbedtls_gcm_setkey(aead->impl, MBEDTLS_CIPHER_ID_AES, key, SC_AEAD_KEY_LEN * 8) != 0) {
        sc_aead_free(aead);
        return SC_ERR_CRYPTO;
    }
    return SC_OK;
}

void sc_aead_free(sc_aead *aead)
{
    if (aead == NULL || aead->impl == NULL) {
        return;
    }
    mbedtls_gcm_free(aead->impl); /* frees the cipher context and zeroizes the key schedule */
    mbedtls_free(aead->impl);
    aead->impl = NULL;
}

int sc_aead_seal(sc_aead *aead, const uint8_t nonce[SC_AEAD_NONCE_LEN], const uint8_t *ad,
                 size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    if (aead == NULL || aead->impl == NULL || nonce == NULL || (ad == NULL && ad_len > 0) ||
        (in == NULL && len > 0) || out == NULL) {
        return SC_ERR_ARG;
    }
    int ret = mbedtls_gcm_crypt_and_tag(aead->impl, MBEDTLS_GCM_ENCRYPT, len, nonce,
                                        SC_AEAD_NONCE_LEN, ad, ad_len, in, out, SC_AEAD_TAG_LEN,
                                        out + len);
    return ret == 0 ? SC_OK : SC_ERR_CRYPTO;
}

int sc_aead_open(sc_aead *aead, const uint8_t nonce[SC_AEAD_NONCE_LEN], const uint8_t *ad,
                 size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    if (aead == NULL || aead->impl == NULL || nonce == NULL || (ad == NULL && ad_len > 0) ||
        in == NULL || (out == NULL && len > SC_AEAD_TAG_LEN)) {
        return SC_ERR_ARG;
    }
    if (len < SC_AEAD_TAG_LEN) {
        return SC_ERR_AUTH;
    }
    size_t plain = len - SC_AEAD_TAG_LEN;
    /* In place, the plaintext overwrites only the ciphertext, never the tag after it. */
    int ret = mbedtls_gcm_auth_decrypt(aead->impl, plain, nonce, SC_AEAD_NONCE_LEN, ad, ad_len,
                                       in + plain, SC_AEAD_TAG_LEN, in, out);
    if (ret == MBEDTLS_ERR_GCM_AUTH_FAILED) {
        return SC_ERR_AUTH;
    }
    return ret == 0 ? SC_OK : SC_ERR_CRYPTO;
}
