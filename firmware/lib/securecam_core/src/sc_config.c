/* The configuration model, its validation, the key fingerprint and load/save via the store. */
#include "securecam/sc_config.h"

#include <string.h>

#include "securecam/sc_crypto.h"
#include "securecam/sc_protocol.h"

void sc_config_defaults(sc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->server_port = SC_CONFIG_DEFAULT_PORT;
    cfg->frame_size = SC_CONFIG_DEFAULT_FRAME_SIZE;
    cfg->jpeg_quality = SC_CONFIG_DEFAULT_QUALITY;
    cfg->fps_cap = SC_CONFIG_DEFAULT_FPS_CAP;
}

void sc_config_wipe(sc_config *cfg)
{
    sc_wipe(cfg, sizeof *cfg);
}

static bool no_nul(const uint8_t *s, size_t len)
{
    return len == 0 || memchr(s, 0, len) == NULL;
}

static bool is_alnum(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The device-id alphabet, also used for hosts: ASCII only, so no locale-dependent ctype. */
static bool valid_id(const uint8_t *s, size_t len, size_t max)
{
    if (len == 0 || len > max || !is_alnum(s[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') {
            return false;
        }
    }
    return true;
}

bool sc_config_valid_ssid(const uint8_t *s, size_t len)
{
    return len >= 1 && len <= SC_CONFIG_SSID_MAX && no_nul(s, len);
}

bool sc_config_valid_wifi_pass(const uint8_t *s, size_t len)
{
    return len <= SC_CONFIG_PASS_MAX && no_nul(s, len);
}

bool sc_config_valid_host(const uint8_t *s, size_t len)
{
    return valid_id(s, len, SC_CONFIG_HOST_MAX);
}

bool sc_config_valid_device_name(const uint8_t *s, size_t len)
{
    return valid_id(s, len, SC_CONFIG_NAME_MAX);
}

bool sc_config_valid_port(uint32_t port)
{
    return port >= 1 && port <= 65535;
}

bool sc_config_valid_frame_size(uint32_t code)
{
    return code >= SC_CONFIG_FRAME_SIZE_MIN && code <= SC_CONFIG_FRAME_SIZE_MAX;
}

bool sc_config_valid_jpeg_quality(uint32_t quality)
{
    return quality >= SC_CONFIG_QUALITY_MIN && quality <= SC_CONFIG_QUALITY_MAX;
}

bool sc_config_valid_fps_cap(uint32_t fps_cap)
{
    return fps_cap >= 1 && fps_cap <= SC_CONFIG_NO_FPS_CAP;
}

/* strnlen is POSIX, not C11. */
static size_t bounded_len(const char *s, size_t cap)
{
    const char *nul = memchr(s, 0, cap);
    return nul != NULL ? (size_t)(nul - s) : cap;
}

sc_config_field sc_config_validate(const sc_config *cfg)
{
    size_t n = bounded_len(cfg->wifi_ssid, sizeof cfg->wifi_ssid);
    if (n == sizeof cfg->wifi_ssid) {
        return SC_CONFIG_FIELD_WIFI_SSID;
    }
    if (bounded_len(cfg->wifi_pass, sizeof cfg->wifi_pass) == sizeof cfg->wifi_pass) {
        return SC_CONFIG_FIELD_WIFI_PASS;
    }
    n = bounded_len(cfg->server_host, sizeof cfg->server_host);
    if (n == sizeof cfg->server_host ||
        (n > 0 && !sc_config_valid_host((const uint8_t *)cfg->server_host, n))) {
        return SC_CONFIG_FIELD_SERVER_HOST;
    }
    if (!sc_config_valid_port(cfg->server_port)) {
        return SC_CONFIG_FIELD_SERVER_PORT;
    }
    n = bounded_len(cfg->device_name, sizeof cfg->device_name);
    if (n == sizeof cfg->device_name ||
        (n > 0 && !sc_config_valid_device_name((const uint8_t *)cfg->device_name, n))) {
        return SC_CONFIG_FIELD_DEVICE_NAME;
    }
    if (!sc_config_valid_frame_size(cfg->frame_size)) {
        return SC_CONFIG_FIELD_FRAME_SIZE;
    }
    if (!sc_config_valid_jpeg_quality(cfg->jpeg_quality)) {
        return SC_CONFIG_FIELD_JPEG_QUALITY;
    }
    if (!sc_config_valid_fps_cap(cfg->fps_cap)) {
        return SC_CONFIG_FIELD_FPS_CAP;
    }
    return SC_CONFIG_FIELD_NONE;
}

bool sc_config_is_complete(const sc_config *cfg)
{
    return sc_config_validate(cfg) == SC_CONFIG_FIELD_NONE && cfg->wifi_ssid[0] != '\0' &&
           cfg->server_host[0] != '\0' && cfg->device_name[0] != '\0' && cfg->has_key;
}

const char *sc_config_field_name(sc_config_field field)
{
    switch (field) {
    case SC_CONFIG_FIELD_WIFI_SSID: return "wifi_ssid";
    case SC_CONFIG_FIELD_WIFI_PASS: return "wifi_pass";
    case SC_CONFIG_FIELD_SERVER_HOST: return "server_host";
    case SC_CONFIG_FIELD_SERVER_PORT: return "server_port";
    case SC_CONFIG_FIELD_DEVICE_NAME: return "device_name";
    case SC_CONFIG_FIELD_KEY: return "key";
    case SC_CONFIG_FIELD_FRAME_SIZE: return "frame_size";
    case SC_CONFIG_FIELD_JPEG_QUALITY: return "jpeg_quality";
    case SC_CONFIG_FIELD_FPS_CAP: return "fps_cap";
    case SC_CONFIG_FIELD_NONE: break;
    }
    return "none";
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool sc_config_parse_key_hex(const char *text, size_t len, uint8_t key[SC_CONFIG_KEY_LEN])
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1])) {
        len--;
    }
    /* Decode into a scratch buffer so a half-parsed key never reaches the caller. */
    uint8_t out[SC_CONFIG_KEY_LEN];
    size_t digits = 0;
    bool ok = true;
    for (size_t i = 0; i < len && ok; i++) {
        if (text[i] == ':' || text[i] == ' ') {
            continue;
        }
        int v = hex_value(text[i]);
        if (v < 0 || digits >= SC_CONFIG_KEY_HEX_LEN) {
            ok = false;
            break;
        }
        if (digits % 2 == 0) {
            out[digits / 2] = (uint8_t)(v << 4);
        } else {
            out[digits / 2] |= (uint8_t)v;
        }
        digits++;
    }
    ok = ok && digits == SC_CONFIG_KEY_HEX_LEN;
    if (ok) {
        memcpy(key, out, sizeof out);
    }
    sc_wipe(out, sizeof out);
    return ok;
}

bool sc_config_key_fingerprint(const uint8_t key[SC_CONFIG_KEY_LEN],
                               char out[SC_CONFIG_FINGERPRINT_SIZE])
{
    /* One definition of the fingerprint for the whole core: the protocol's. */
    if (sc_psk_fingerprint(key, NULL, out) != SC_OK) {
        out[0] = '\0';
        return false;
    }
    return true;
}

size_t sc_config_server_url(const sc_config *cfg, char *out, size_t cap)
{
    if (cap == 0) {
        return 0;
    }
    out[0] = '\0';
    size_t host_len = bounded_len(cfg->server_host, sizeof cfg->server_host);
    if (host_len == 0 || host_len == sizeof cfg->server_host) {
        return 0;
    }
    /* Build by hand: snprintf would pull stdio into the firmware for one string. */
    char port[6];
    size_t port_len = 0;
    char digits[5];
    unsigned v = cfg->server_port;
    do {
        digits[port_len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && port_len < sizeof digits);
    for (size_t i = 0; i < port_len; i++) {
        port[i] = digits[port_len - 1 - i];
    }
    static const char SCHEME[] = "ws://";
    static const char PATH[] = "/camera";
    size_t need = (sizeof SCHEME - 1) + host_len + 1 + port_len + (sizeof PATH - 1);
    if (need + 1 > cap) {
        return 0;
    }
    size_t o = 0;
    memcpy(out + o, SCHEME, sizeof SCHEME - 1);
    o += sizeof SCHEME - 1;
    memcpy(out + o, cfg->server_host, host_len);
    o += host_len;
    out[o++] = ':';
    memcpy(out + o, port, port_len);
    o += port_len;
    memcpy(out + o, PATH, sizeof PATH - 1);
    o += sizeof PATH - 1;
    out[o] = '\0';
    return o;
}

bool sc_config_set_string(char *dst, size_t max, const uint8_t *s, size_t len)
{
    if (len > max || !no_nul(s, len)) {
        return false;
    }
    if (len > 0) {
        memcpy(dst, s, len);
    }
    dst[len] = '\0';
    return true;
}

/* ---- persistence -------------------------------------------------------------------- */

typedef enum { LOAD_ABSENT, LOAD_OK, LOAD_BAD, LOAD_FAILED } load_result;

static load_result load_value(const sc_config_store *store, const char *key, uint8_t *buf,
                              size_t cap, size_t *len)
{
    *len = 0;
    switch (store->get(store->ctx, key, buf, cap, len)) {
    case SC_STORE_OK: return *len <= cap ? LOAD_OK : LOAD_BAD;
    case SC_STORE_NOT_FOUND: return LOAD_ABSENT;
    case SC_STORE_TOO_BIG: return LOAD_BAD;
    case SC_STORE_ERROR: break;
    }
    return LOAD_FAILED;
}

/* One string field: absent keeps the default (""), an invalid value is reported. */
static load_result load_string(const sc_config_store *store, const char *key, char *dst,
                               size_t max, bool (*valid)(const uint8_t *, size_t))
{
    uint8_t buf[SC_CONFIG_PASS_MAX + 1]; /* the longest string field, +1 to see overlong */
    size_t len;
    load_result r = load_value(store, key, buf, max + 1 < sizeof buf ? max + 1 : sizeof buf, &len);
    if (r == LOAD_OK) {
        if (len > max || !valid(buf, len) || !sc_config_set_string(dst, max, buf, len)) {
            r = LOAD_BAD;
        }
    }
    sc_wipe(buf, sizeof buf);
    return r;
}

static load_result load_u8(const sc_config_store *store, const char *key, uint8_t *dst,
                           bool (*valid)(uint32_t))
{
    uint8_t buf[2];
    size_t len;
    load_result r = load_value(store, key, buf, sizeof buf, &len);
    if (r == LOAD_OK) {
        if (len != 1 || !valid(buf[0])) {
            return LOAD_BAD;
        }
        *dst = buf[0];
    }
    return r;
}

sc_config_status sc_config_load(sc_config *cfg, const sc_config_store *store)
{
    sc_config_defaults(cfg);
    load_result r[9];
    size_t n = 0;

    r[n++] = load_string(store, SC_CONFIG_KEY_WIFI_SSID, cfg->wifi_ssid, SC_CONFIG_SSID_MAX,
                         sc_config_valid_ssid);
    r[n++] = load_string(store, SC_CONFIG_KEY_WIFI_PASS, cfg->wifi_pass, SC_CONFIG_PASS_MAX,
                         sc_config_valid_wifi_pass);
    r[n++] = load_string(store, SC_CONFIG_KEY_SERVER_HOST, cfg->server_host, SC_CONFIG_HOST_MAX,
                         sc_config_valid_host);
    r[n++] = load_string(store, SC_CONFIG_KEY_DEVICE_NAME, cfg->device_name, SC_CONFIG_NAME_MAX,
                         sc_config_valid_device_name);

    uint8_t buf[SC_CONFIG_KEY_LEN + 1];
    size_t len;
    load_result k = load_value(store, SC_CONFIG_KEY_SERVER_PORT, buf, sizeof buf, &len);
    if (k == LOAD_OK) {
        uint32_t port = len == 2 ? ((uint32_t)buf[0] << 8) | buf[1] : 0;
        if (sc_config_valid_port(port)) {
            cfg->server_port = (uint16_t)port;
        } else {
            k = LOAD_BAD;
        }
    }
    r[n++] = k;

    k = load_value(store, SC_CONFIG_KEY_PSK, buf, sizeof buf, &len);
    if (k == LOAD_OK) {
        if (len == SC_CONFIG_KEY_LEN) {
            memcpy(cfg->key, buf, SC_CONFIG_KEY_LEN);
            cfg->has_key = true;
        } else {
            k = LOAD_BAD;
        }
    }
    sc_wipe(buf, sizeof buf);
    r[n++] = k;

    r[n++] = load_u8(store, SC_CONFIG_KEY_FRAME_SIZE, &cfg->frame_size, sc_config_valid_frame_size);
    r[n++] = load_u8(store, SC_CONFIG_KEY_JPEG_QUALITY, &cfg->jpeg_quality,
                     sc_config_valid_jpeg_quality);
    r[n++] = load_u8(store, SC_CONFIG_KEY_FPS_CAP, &cfg->fps_cap, sc_config_valid_fps_cap);

    sc_config_status status = SC_CONFIG_OK;
    for (size_t i = 0; i < n; i++) {
        if (r[i] == LOAD_FAILED) {
            sc_config_wipe(cfg);
            sc_config_defaults(cfg);
            return SC_CONFIG_STORE_FAILED;
        }
        if (r[i] == LOAD_BAD) {
            status = SC_CONFIG_CORRUPT;
        }
    }
    return status;
}

/* Write (or, when empty, remove) one value; true on success. */
static bool put(const sc_config_store *store, const char *key, const uint8_t *value, size_t len)
{
    if (len == 0) {
        sc_store_result r = store->remove(store->ctx, key);
        return r == SC_STORE_OK || r == SC_STORE_NOT_FOUND;
    }
    return store->set(store->ctx, key, value, len) == SC_STORE_OK;
}

static bool put_string(const sc_config_store *store, const char *key, const char *value,
                       const char *old)
{
    if (old != NULL && strcmp(value, old) == 0) {
        return true;
    }
    return put(store, key, (const uint8_t *)value, strlen(value));
}

static bool put_u8(const sc_config_store *store, const char *key, uint8_t value,
                   const uint8_t *old)
{
    if (old != NULL && *old == value) {
        return true;
    }
    return put(store, key, &value, 1);
}

sc_config_status sc_config_save(const sc_config *cfg, const sc_config *previous,
                                const sc_config_store *store)
{
    if (sc_config_validate(cfg) != SC_CONFIG_FIELD_NONE) {
        return SC_CONFIG_STORE_FAILED;
    }
    const sc_config *p = previous;
    bool ok = true;
    ok = ok && put_string(store, SC_CONFIG_KEY_WIFI_SSID, cfg->wifi_ssid, p ? p->wifi_ssid : NULL);
    ok = ok && put_string(store, SC_CONFIG_KEY_WIFI_PASS, cfg->wifi_pass, p ? p->wifi_pass : NULL);
    ok = ok && put_string(store, SC_CONFIG_KEY_SERVER_HOST, cfg->server_host,
                          p ? p->server_host : NULL);
    ok = ok && put_string(store, SC_CONFIG_KEY_DEVICE_NAME, cfg->device_name,
                          p ? p->device_name : NULL);
    if (ok && (p == NULL || p->server_port != cfg->server_port)) {
        const uint8_t port[2] = {(uint8_t)(cfg->server_port >> 8), (uint8_t)cfg->server_port};
        ok = put(store, SC_CONFIG_KEY_SERVER_PORT, port, sizeof port);
    }
    if (ok && (p == NULL || p->has_key != cfg->has_key ||
               (cfg->has_key && memcmp(p->key, cfg->key, SC_CONFIG_KEY_LEN) != 0))) {
        ok = put(store, SC_CONFIG_KEY_PSK, cfg->key, cfg->has_key ? SC_CONFIG_KEY_LEN : 0);
    }
    ok = ok && put_u8(store, SC_CONFIG_KEY_FRAME_SIZE, cfg->frame_size,
                      p ? &p->frame_size : NULL);
    ok = ok && put_u8(store, SC_CONFIG_KEY_JPEG_QUALITY, cfg->jpeg_quality,
                      p ? &p->jpeg_quality : NULL);
    ok = ok && put_u8(store, SC_CONFIG_KEY_FPS_CAP, cfg->fps_cap, p ? &p->fps_cap : NULL);
    if (ok && store->commit != NULL) {
        ok = store->commit(store->ctx) == SC_STORE_OK;
    }
    return ok ? SC_CONFIG_OK : SC_CONFIG_STORE_FAILED;
}

sc_config_status sc_config_erase(const sc_config_store *store)
{
    bool ok = store->erase_all(store->ctx) == SC_STORE_OK;
    if (ok && store->commit != NULL) {
        ok = store->commit(store->ctx) == SC_STORE_OK;
    }
    return ok ? SC_CONFIG_OK : SC_CONFIG_STORE_FAILED;
}

/* ---- the JPEG frame-buffer limit (sc_config.h, docs/JPEG-BUFFER.md) ------------------- */

/* width x height of each FrameSize code 1..10 (docs/PROTOCOL.md 4, app/protocol/framesize.py). */
static const uint16_t k_frame_dims[SC_CONFIG_FRAME_SIZE_MAX][2] = {
    {160, 120},  {320, 240},  {400, 296},   {480, 320},   {640, 480},
    {800, 600},  {1024, 768}, {1280, 720},  {1280, 1024}, {1600, 1200},
};

/* Worst-case thousandths of a byte per pixel for quality 4..63: ceil(250 * (12 / q)^0.75),
 * generated by app/protocol/framesize.py's formula (tests/protocol/test_framesize.py checks). */
static const uint16_t k_worst_millibytes_per_pixel[SC_CONFIG_QUALITY_MAX - SC_CONFIG_QUALITY_MIN +
                                                   1] = {
    570, 483, 421, 375, 339, 311, 287, 267, 250, 236, /* 4..13 */
    223, 212, 202, 193, 185, 178, 171, 165, 159, 154, /* 14..23 */
    149, 145, 140, 137, 133, 129, 126, 123, 120, 118, /* 24..33 */
    115, 113, 110, 108, 106, 104, 102, 100, 98,  96,  /* 34..43 */
    95,  93,  92,  90,  89,  88,  86,  85,  84,  83,  /* 44..53 */
    81,  80,  79,  78,  77,  76,  75,  74,  73,  73,  /* 54..63 */
};

uint32_t sc_config_frame_pixels(uint8_t frame_size)
{
    if (!sc_config_valid_frame_size(frame_size)) {
        return 0;
    }
    const uint16_t *dims = k_frame_dims[frame_size - SC_CONFIG_FRAME_SIZE_MIN];
    return (uint32_t)dims[0] * dims[1];
}

uint32_t sc_config_jpeg_buffer_bytes(uint8_t frame_size)
{
    return sc_config_frame_pixels(frame_size) / 5;
}

uint32_t sc_config_jpeg_worst_bytes(uint8_t frame_size, uint8_t quality)
{
    uint32_t pixels = sc_config_frame_pixels(frame_size);
    if (pixels == 0 || !sc_config_valid_jpeg_quality(quality)) {
        return 0;
    }
    /* At most 1,920,000 px x 570: fits 32 bits with room to spare. */
    uint32_t scaled = pixels * k_worst_millibytes_per_pixel[quality - SC_CONFIG_QUALITY_MIN];
    return SC_CONFIG_JPEG_HEADER_ALLOWANCE + (scaled + 999u) / 1000u;
}

uint8_t sc_config_min_jpeg_quality(uint8_t frame_size, uint32_t buffer_bytes)
{
    uint32_t usable = buffer_bytes / SC_CONFIG_JPEG_DMA_CHUNK * SC_CONFIG_JPEG_DMA_CHUNK;
    for (uint32_t q = SC_CONFIG_QUALITY_MIN; q <= SC_CONFIG_QUALITY_MAX; q++) {
        uint32_t worst = sc_config_jpeg_worst_bytes(frame_size, (uint8_t)q);
        if (worst == 0) {
            return 0; /* unknown frame size */
        }
        if (worst <= usable) {
            return (uint8_t)q;
        }
    }
    return 0;
}

uint8_t sc_config_jpeg_quality_in_force(uint8_t frame_size, uint8_t quality,
                                        uint32_t buffer_bytes)
{
    uint8_t lowest = sc_config_min_jpeg_quality(frame_size, buffer_bytes);
    if (lowest == 0 || quality > SC_CONFIG_QUALITY_MAX) {
        return SC_CONFIG_QUALITY_MAX;
    }
    return quality < lowest ? lowest : quality;
}
