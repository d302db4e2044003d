/* The mbedTLS 2.28 / 3.x API differences the core depends on, in one place.
 *
 * Included only by src/sc_crypto_mbedtls.c. The host tests pass against 2.28.3 (Debian) and
 * 3.6.6 (upstream tag), and the backend compiles against the 3.0.0 headers; ESP-IDF 4.4 ships
 * 2.28, ESP-IDF 5.x ships 3.x. mbedTLS 4 hides these legacy APIs behind PSA: not supported.
 *
 * Not needed, deliberately: MBEDTLS_PRIVATE(). 3.x made struct fields such as ecp_keypair's
 * grp/d/Q private; the backend never touches a field and goes through functions that exist in
 * both (mbedtls_ecp_point_read_binary/write_binary, mbedtls_mpi_read_binary_le, ecp_mul).
 */
#ifndef SECURECAM_SC_MBEDTLS_COMPAT_H
#define SECURECAM_SC_MBEDTLS_COMPAT_H

#include <mbedtls/version.h> /* 2.x: pulls in config.h; 3.x: build_info.h */

#if !defined(MBEDTLS_VERSION_NUMBER) || MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "SecureCam needs mbedTLS 2.28 or 3.x"
#elif MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "mbedTLS 4 removed the legacy ECP/GCM API this backend uses; use 2.28 or 3.x"
#endif

#if !defined(MBEDTLS_ECP_C) || !defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
#error "SecureCam needs MBEDTLS_ECP_C and MBEDTLS_ECP_DP_CURVE25519_ENABLED (X25519)"
#endif
#if !defined(MBEDTLS_GCM_C) || !defined(MBEDTLS_AES_C)
#error "SecureCam needs MBEDTLS_GCM_C and MBEDTLS_AES_C"
#endif
#if !defined(MBEDTLS_SHA256_C) || !defined(MBEDTLS_MD_C)
#error "SecureCam needs MBEDTLS_SHA256_C and MBEDTLS_MD_C"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
/* 3.0 dropped the _ret suffix: the plain names now return int. */
#define sc_mbedtls_sha256_starts(ctx) mbedtls_sha256_starts((ctx), 0)
#define sc_mbedtls_sha256_update(ctx, in, len) mbedtls_sha256_update((ctx), (in), (len))
#define sc_mbedtls_sha256_finish(ctx, out) mbedtls_sha256_finish((ctx), (out))
#else
/* 2.x: the plain names return void and are deprecated; the _ret ones report errors. */
#define sc_mbedtls_sha256_starts(ctx) mbedtls_sha256_starts_ret((ctx), 0)
#define sc_mbedtls_sha256_update(ctx, in, len) mbedtls_sha256_update_ret((ctx), (in), (len))
#define sc_mbedtls_sha256_finish(ctx, out) mbedtls_sha256_finish_ret((ctx), (out))
#endif

#endif
