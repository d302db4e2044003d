/* The camera's persistent configuration: Wi-Fi, server, identity, key and camera defaults.
 *
 * Portable C11, no platform headers. Persistence goes through sc_config_store, a small
 * key-value interface that the firmware backs with NVS (Arduino Preferences) and the host
 * build with a file. docs/PROVISIONING.md lists the store keys and their byte encodings.
 *
 * Secrets: `key` (the Noise pre-shared key) and `wifi_pass` never leave the device through
 * this module; what may be shown is the key's fingerprint (sc_config_key_fingerprint).
 */
#ifndef SECURECAM_SC_CONFIG_H
#define SECURECAM_SC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_CONFIG_SSID_MAX 32        /* bytes, 802.11 limit */
#define SC_CONFIG_PASS_MAX 64        /* bytes: WPA passphrase 8..63, or 64 hex digits */
#define SC_CONFIG_HOST_MAX 63        /* bytes */
#define SC_CONFIG_NAME_MAX 32        /* bytes, docs/PROTOCOL.md device id */
#define SC_CONFIG_KEY_LEN 32         /* bytes, the Noise PSK */
#define SC_CONFIG_KEY_HEX_LEN 64     /* hex digits in the key's text form */
#define SC_CONFIG_FINGERPRINT_SIZE 20 /* "xxxx-xxxx-xxxx-xxxx" + NUL */
#define SC_CONFIG_URL_MAX 96         /* "ws://" + host + ":65535" + "/camera" + NUL fits */

#define SC_CONFIG_DEFAULT_PORT 8888
#define SC_CONFIG_DEFAULT_FRAME_SIZE 5  /* VGA, a FrameSize wire code */
#define SC_CONFIG_DEFAULT_QUALITY 12    /* esp32-camera scale, 4 (best) .. 63 */
#define SC_CONFIG_DEFAULT_FPS_CAP 25    /* frames/s; 255 = no cap */

#define SC_CONFIG_FRAME_SIZE_MIN 1   /* QQVGA */
#define SC_CONFIG_FRAME_SIZE_MAX 10  /* UXGA */
#define SC_CONFIG_QUALITY_MIN 4
#define SC_CONFIG_QUALITY_MAX 63
#define SC_CONFIG_NO_FPS_CAP 255

/* Strings are NUL-terminated and contain no NUL; an empty string means "not set". */
typedef struct {
    char wifi_ssid[SC_CONFIG_SSID_MAX + 1];
    char wifi_pass[SC_CONFIG_PASS_MAX + 1]; /* empty: open network */
    char server_host[SC_CONFIG_HOST_MAX + 1];
    uint16_t server_port;                   /* 1..65535 */
    char device_name[SC_CONFIG_NAME_MAX + 1];
    uint8_t key[SC_CONFIG_KEY_LEN];         /* meaningful only when has_key */
    bool has_key;
    uint8_t frame_size;                     /* FrameSize code 1..10 */
    uint8_t jpeg_quality;                   /* 4..63 */
    uint8_t fps_cap;                        /* 1..254 frames/s, 255 = no cap */
} sc_config;

/* Which field a validation failure is about. */
typedef enum {
    SC_CONFIG_FIELD_NONE = 0,
    SC_CONFIG_FIELD_WIFI_SSID,
    SC_CONFIG_FIELD_WIFI_PASS,
    SC_CONFIG_FIELD_SERVER_HOST,
    SC_CONFIG_FIELD_SERVER_PORT,
    SC_CONFIG_FIELD_DEVICE_NAME,
    SC_CONFIG_FIELD_KEY,
    SC_CONFIG_FIELD_FRAME_SIZE,
    SC_CONFIG_FIELD_JPEG_QUALITY,
    SC_CONFIG_FIELD_FPS_CAP
} sc_config_field;

/* ---- the store interface ------------------------------------------------------------ */

typedef enum {
    SC_STORE_OK = 0,
    SC_STORE_NOT_FOUND, /* get/remove: no such key (remove treats it as success) */
    SC_STORE_TOO_BIG,   /* get: the stored value is longer than the buffer */
    SC_STORE_ERROR      /* I/O or backend failure */
} sc_store_result;

/* A key-value store of small byte strings. Keys are NUL-terminated, at most 15 chars
 * (the NVS limit). Values are 1..255 bytes: NVS (Preferences::putBytes) cannot store an
 * empty value, so "unset" is expressed by removing the key.
 *
 * get:       copy the value into buf (cap bytes), set *len; NOT_FOUND / TOO_BIG / ERROR.
 * set:       create or replace a value (len >= 1).
 * remove:    delete a key; NOT_FOUND is not an error.
 * erase_all: delete every key of this store (factory reset).
 * commit:    make the preceding changes durable as one unit where the backend can (the
 *            file store writes one file atomically); NULL when every set is durable alone.
 */
typedef struct sc_config_store {
    void *ctx;
    sc_store_result (*get)(void *ctx, const char *key, uint8_t *buf, size_t cap, size_t *len);
    sc_store_result (*set)(void *ctx, const char *key, const uint8_t *value, size_t len);
    sc_store_result (*remove)(void *ctx, const char *key);
    sc_store_result (*erase_all)(void *ctx);
    sc_store_result (*commit)(void *ctx);
} sc_config_store;

/* Store key names (also the NVS key names; namespace SC_CONFIG_NVS_NAMESPACE). */
#define SC_CONFIG_NVS_NAMESPACE "securecam"
#define SC_CONFIG_KEY_WIFI_SSID "wifi_ssid"
#define SC_CONFIG_KEY_WIFI_PASS "wifi_pass"
#define SC_CONFIG_KEY_SERVER_HOST "server_host"
#define SC_CONFIG_KEY_SERVER_PORT "server_port"
#define SC_CONFIG_KEY_DEVICE_NAME "device_name"
#define SC_CONFIG_KEY_PSK "psk"
#define SC_CONFIG_KEY_FRAME_SIZE "frame_size"
#define SC_CONFIG_KEY_JPEG_QUALITY "jpeg_quality"
#define SC_CONFIG_KEY_FPS_CAP "fps_cap"

typedef enum {
    SC_CONFIG_OK = 0,
    SC_CONFIG_CORRUPT,     /* load: some stored values were invalid; those fields got defaults */
    SC_CONFIG_STORE_FAILED /* the store reported an error; for load, cfg holds the defaults */
} sc_config_status;

/* ---- the model ---------------------------------------------------------------------- */

/* Everything unset, camera settings and port at their defaults. */
void sc_config_defaults(sc_config *cfg);

/* Zeroize the whole struct (the key and Wi-Fi password in it) in a way the compiler keeps. */
void sc_config_wipe(sc_config *cfg);

/* Field validators; the string ones take explicit lengths because wire data is not
 * NUL-terminated. Empty strings are rejected here: "unset" is not a value one sets. */
bool sc_config_valid_ssid(const uint8_t *s, size_t len);      /* 1..32 bytes, no NUL */
bool sc_config_valid_wifi_pass(const uint8_t *s, size_t len); /* 0..64 bytes, no NUL */
/* 1..63 of [A-Za-z0-9._-], starting with a letter or digit (a DNS name or IPv4 address). */
bool sc_config_valid_host(const uint8_t *s, size_t len);
/* 1..32 of [A-Za-z0-9._-], starting with a letter or digit (app/protocol/hello.py). */
bool sc_config_valid_device_name(const uint8_t *s, size_t len);
bool sc_config_valid_port(uint32_t port);
bool sc_config_valid_frame_size(uint32_t code);
bool sc_config_valid_jpeg_quality(uint32_t quality);
bool sc_config_valid_fps_cap(uint32_t fps_cap);

/* The first invalid field of cfg (unset strings and a missing key are valid), or NONE. */
sc_config_field sc_config_validate(const sc_config *cfg);

/* True when cfg has everything needed to stream: SSID, server host, device name and key. */
bool sc_config_is_complete(const sc_config *cfg);

/* A short lowercase name for a field ("server_port"), for messages. Never NULL. */
const char *sc_config_field_name(sc_config_field field);

/* Parse the key's text form: 64 hex digits, any case, ':' or ' ' between digits allowed,
 * surrounding whitespace ignored (the same rules as DeviceKey.from_text). Writes key only
 * on success. */
bool sc_config_parse_key_hex(const char *text, size_t len, uint8_t key[SC_CONFIG_KEY_LEN]);

/* The key fingerprint: first 8 bytes of SHA-256("securecam-fp-v1:" || key) as lowercase hex
 * in four groups of four joined by '-'. Returns false only if hashing failed. */
bool sc_config_key_fingerprint(const uint8_t key[SC_CONFIG_KEY_LEN],
                               char out[SC_CONFIG_FINGERPRINT_SIZE]);

/* "ws://HOST:PORT/camera" into out; returns its length, 0 when no host is set or cap is too
 * small (out is then ""). */
size_t sc_config_server_url(const sc_config *cfg, char *out, size_t cap);

/* Copy a validated wire string into a config field (dst has room for max + 1 bytes).
 * Returns false, leaving dst untouched, if len > max or s contains a NUL. */
bool sc_config_set_string(char *dst, size_t max, const uint8_t *s, size_t len);

/* ---- the JPEG frame-buffer limit (docs/JPEG-BUFFER.md) ------------------------------ */

/* esp32-camera (2.0.6) gives each JPEG frame buffer width*height/5 bytes of the frame size
 * passed to esp_camera_init, and drops a frame that does not fit (FB-OVF / NO-EOI on UART0).
 * SecureCam inits at its largest size, so every size shares that buffer. These functions give
 * the lowest JPEG quality number (the best quality) whose worst-case frame still fits:
 *
 *   worst(size, q) = HEADER_ALLOWANCE + ceil(pixels * mB(q) / 1000) bytes, where
 *   mB(q) = ceil(250 * (12 / q)^0.75) thousandths of a byte per pixel,
 *
 * and a frame fits when worst <= the buffer rounded down to whole DMA_CHUNKs (the driver
 * copies JPEG data in 1,024-byte pieces and refuses a piece that would not fit whole).
 * 0.25 B/px at quality 12 is 1.25 x the worst reported (UXGA frames over 384,000 B at 10-12);
 * the exponent 0.75 is the size-versus-quality slope measured on OV2640/OV5640 JPEGs. The
 * sources and the resulting table are in docs/JPEG-BUFFER.md; app/protocol/framesize.py is the
 * same rule in Python, and tests/protocol/test_framesize.py proves the two agree. */
#define SC_CONFIG_JPEG_DMA_CHUNK 1024u         /* JPEG bytes per DMA half-buffer on the ESP32 */
#define SC_CONFIG_JPEG_HEADER_ALLOWANCE 1024u  /* the sensor's JPEG headers (about 620 B) */
#define SC_CONFIG_JPEG_BUFFER_PSRAM 384000u    /* UXGA 1600*1200/5: the buffer with PSRAM */
#define SC_CONFIG_JPEG_BUFFER_NO_PSRAM 23680u  /* CIF 400*296/5: the DRAM buffer without */

/* width*height of a FrameSize code; 0 for an unknown code. */
uint32_t sc_config_frame_pixels(uint8_t frame_size);

/* What esp32-camera allocates per JPEG buffer when esp_camera_init gets this frame size
 * (width*height/5); 0 for an unknown code. */
uint32_t sc_config_jpeg_buffer_bytes(uint8_t frame_size);

/* The model's worst-case JPEG frame, in bytes; 0 for an unknown frame size or a quality
 * outside SC_CONFIG_QUALITY_MIN..MAX. */
uint32_t sc_config_jpeg_worst_bytes(uint8_t frame_size, uint8_t quality);

/* The lowest quality number (4..63) whose worst-case frame at frame_size fits a JPEG buffer
 * of buffer_bytes; 0 when the frame size is unknown or not even quality 63 fits. */
uint8_t sc_config_min_jpeg_quality(uint8_t frame_size, uint32_t buffer_bytes);

/* The quality to apply for a wanted one: the wanted quality, raised to the floor
 * (sc_config_min_jpeg_quality) when it is below it; SC_CONFIG_QUALITY_MAX when nothing fits;
 * a wanted quality above SC_CONFIG_QUALITY_MAX comes back as SC_CONFIG_QUALITY_MAX. */
uint8_t sc_config_jpeg_quality_in_force(uint8_t frame_size, uint8_t quality,
                                        uint32_t buffer_bytes);

/* ---- persistence -------------------------------------------------------------------- */

/* Defaults, then every stored field that is present and valid. */
sc_config_status sc_config_load(sc_config *cfg, const sc_config_store *store);

/* Write the fields of cfg that differ from *previous (all of them when previous is NULL),
 * then commit. Unset strings and a missing key are removed from the store. cfg must be
 * valid (sc_config_validate); an invalid cfg is refused with STORE_FAILED, nothing written. */
sc_config_status sc_config_save(const sc_config *cfg, const sc_config *previous,
                                const sc_config_store *store);

/* Delete every stored field (factory reset) and commit. */
sc_config_status sc_config_erase(const sc_config_store *store);

#ifdef __cplusplus
}
#endif

#endif
