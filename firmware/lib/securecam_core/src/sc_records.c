/* Hello, records, text and close-code helpers of sc_protocol.h. */
#include "securecam/sc_protocol.h"

#include <string.h>

/* ----------------------------------------------------------------- big-endian helpers */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (24 - 8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ------------------------------------------------------------------------ close codes */

uint16_t sc_close_code_for(int err)
{
    switch (err) {
    case SC_ERR_AUTH:
        return SC_CLOSE_DECRYPT_FAILED;
    case SC_ERR_MALFORMED:
        return SC_CLOSE_MALFORMED_RECORD;
    case SC_ERR_REJECTED:
        return SC_CLOSE_SERVER_REJECTED;
    case SC_ERR_BAD_HELLO:
        return SC_CLOSE_BAD_HELLO;
    case SC_ERR_VERSION:
        return SC_CLOSE_UNSUPPORTED_VERSION;
    case SC_ERR_TOO_LONG:
        return SC_CLOSE_MESSAGE_TOO_BIG;
    default:
        return SC_CLOSE_INTERNAL_ERROR;
    }
}

bool sc_close_code_is_rejection(uint16_t code)
{
    return (code >= SC_CLOSE_BAD_HELLO && code <= SC_CLOSE_PLAIN_NOT_ALLOWED) ||
           code == SC_CLOSE_SERVER_REJECTED;
}

/* ------------------------------------------------------------------------------ UTF-8 */

/* Length of the valid UTF-8 sequence at text[0], or 0 when it is invalid or truncated. */
static size_t utf8_char(const uint8_t *t, size_t len)
{
    uint8_t b = t[0];
    if (b < 0x80) {
        return 1;
    }
    size_t n;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF; /* bounds of the second byte exclude overlongs and surrogates */
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0) {
            lo = 0xA0;
        } else if (b == 0xED) {
            hi = 0x9F;
        }
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0) {
            lo = 0x90;
        } else if (b == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (len < n || t[1] < lo || t[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if ((t[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return n;
}

size_t sc_utf8_prefix_len(const uint8_t *text, size_t len, size_t max)
{
    if (text == NULL) {
        return 0;
    }
    size_t pos = 0;
    while (pos < len) {
        size_t n = utf8_char(text + pos, len - pos);
        if (n == 0 || pos + n > max) {
            break;
        }
        pos += n;
    }
    return pos;
}

bool sc_utf8_valid(const uint8_t *text, size_t len)
{
    return len == 0 || sc_utf8_prefix_len(text, len, len) == len;
}

/* ---------------------------------------------------------------------------- hello */

static bool id_char(char c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return !first && (c == '.' || c == '_' || c == '-');
}

bool sc_device_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > SC_DEVICE_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!id_char(id[i], i == 0)) {
            return false;
        }
    }
    return true;
}

int sc_hello_encode(sc_suite suite, const char *device_id, uint8_t *out, size_t out_cap,
                    size_t *out_len)
{
    if (device_id == NULL || out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    size_t id_len = 0; /* bounded: the id need not be terminated within reach otherwise */
    while (id_len <= SC_DEVICE_ID_MAX && device_id[id_len] != '\0') {
        id_len++;
    }
    if ((suite != SC_SUITE_NOISE && suite != SC_SUITE_PLAIN) ||
        !sc_device_id_valid(device_id, id_len)) {
        return SC_ERR_ARG;
    }
    if (out_cap < SC_HELLO_HEADER_LEN + id_len) {
        return SC_ERR_BUFFER;
    }
    memcpy(out, "SCAM", 4);
    out[4] = SC_PROTOCOL_VERSION;
    out[5] = (uint8_t)suite;
    out[6] = (uint8_t)id_len;
    memcpy(out + SC_HELLO_HEADER_LEN, device_id, id_len);
    *out_len = SC_HELLO_HEADER_LEN + id_len;
    return SC_OK;
}

int sc_hello_parse(const uint8_t *msg, size_t len, sc_hello *out)
{
    if ((msg == NULL && len > 0) || out == NULL) {
        return SC_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    if (len < SC_HELLO_HEADER_LEN || memcmp(msg, "SCAM", 4) != 0) {
        return SC_ERR_BAD_HELLO;
    }
    if (msg[4] != SC_PROTOCOL_VERSION) {
        return SC_ERR_VERSION;
    }
    if (msg[5] != SC_SUITE_NOISE && msg[5] != SC_SUITE_PLAIN) {
        return SC_ERR_BAD_HELLO;
    }
    size_t id_len = msg[6];
    if (id_len == 0 || id_len > SC_DEVICE_ID_MAX || len - SC_HELLO_HEADER_LEN < id_len) {
        return SC_ERR_BAD_HELLO;
    }
    const char *id = (const char *)msg + SC_HELLO_HEADER_LEN;
    if (!sc_device_id_valid(id, id_len)) {
        return SC_ERR_BAD_HELLO;
    }
    out->version = msg[4];
    out->suite = (sc_suite)msg[5];
    memcpy(out->device_id, id, id_len);
    out->hello_len = SC_HELLO_HEADER_LEN + id_len;
    return SC_OK;
}

int sc_psk_fingerprint(const uint8_t psk[SC_NOISE_PSK_LEN], uint8_t raw[8], char text[20])
{
    static const uint8_t prefix[] = "securecam-fp-v1:";
    static const char hex[] = "0123456789abcdef";
    if (psk == NULL) {
        return SC_ERR_ARG;
    }
    uint8_t digest[SC_SHA256_LEN];
    int ret = sc_sha256_2(prefix, sizeof prefix - 1, psk, SC_NOISE_PSK_LEN, digest);
    if (ret != SC_OK) {
        return ret;
    }
    if (raw != NULL) {
        memcpy(raw, digest, 8);
    }
    if (text != NULL) {
        size_t pos = 0;
        for (size_t i = 0; i < 8; i++) {
            if (i > 0 && i % 2 == 0) {
                text[pos++] = '-';
            }
            text[pos++] = hex[digest[i] >> 4];
            text[pos++] = hex[digest[i] & 0x0F];
        }
        text[pos] = '\0';
    }
    return SC_OK;
}

/* --------------------------------------------------------------------------- records */

void sc_chunk_header_encode(uint32_t seq, uint64_t capture_us, uint64_t send_us,
                            uint32_t total_len, uint16_t index, uint16_t count,
                            uint8_t out[SC_CHUNK_HEADER_LEN])
{
    out[0] = SC_REC_FRAME_CHUNK;
    put32(out + 1, seq);
    put64(out + 5, capture_us);
    put64(out + 13, send_us);
    put32(out + 21, total_len);
    put16(out + 25, index);
    put16(out + 27, count);
}

/* Writes header_len bytes already placed in `out` plus the length byte and the truncated text. */
static int encode_text(uint8_t *out, size_t out_cap, size_t header_len, const char *text,
                       size_t text_len, size_t *out_len)
{
    if (text == NULL && text_len > 0) {
        return SC_ERR_ARG;
    }
    size_t n = sc_utf8_prefix_len((const uint8_t *)text, text_len, SC_MAX_TEXT);
    if (out_cap < header_len + n) {
        return SC_ERR_BUFFER;
    }
    out[header_len - 1] = (uint8_t)n;
    if (n > 0) {
        memcpy(out + header_len, text, n);
    }
    *out_len = header_len + n;
    return SC_OK;
}

/* Bytes of the STATUS extension: 0 when no optional field is reported, else the flags byte
 * and 4 bytes per field. */
static size_t status_ext_len(const sc_status *st)
{
    size_t fields = (st->has_frames_dropped ? 1u : 0u) + (st->has_stack_min_free ? 1u : 0u);
    return fields == 0 ? 0 : 1 + 4 * fields;
}

static void status_ext_encode(const sc_status *st, uint8_t *out)
{
    uint8_t *p = out + 1;
    out[0] = 0;
    if (st->has_frames_dropped) {
        out[0] |= SC_STATUS_EXT_FRAMES_DROPPED;
        put32(p, st->frames_dropped);
        p += 4;
    }
    if (st->has_stack_min_free) {
        out[0] |= SC_STATUS_EXT_STACK_MIN_FREE;
        put32(p, st->stack_min_free);
    }
}

int sc_record_encode(const sc_record *rec, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (rec == NULL || out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    switch (rec->type) {
    case SC_REC_FRAME_CHUNK: {
        const sc_frame_chunk *c = &rec->u.chunk;
        if (c->data == NULL || c->data_len == 0 || c->data_len > SC_MAX_CHUNK_DATA) {
            return SC_ERR_ARG;
        }
        if (out_cap < SC_CHUNK_HEADER_LEN + c->data_len) {
            return SC_ERR_BUFFER;
        }
        sc_chunk_header_encode(c->seq, c->capture_us, c->send_us, c->total_len, c->index,
                               c->count, out);
        memcpy(out + SC_CHUNK_HEADER_LEN, c->data, c->data_len);
        *out_len = SC_CHUNK_HEADER_LEN + c->data_len;
        return SC_OK;
    }
    case SC_REC_PING:
        if (out_cap < SC_PING_LEN) {
            return SC_ERR_BUFFER;
        }
        out[0] = SC_REC_PING;
        put32(out + 1, rec->u.ping.ping_id);
        put64(out + 5, rec->u.ping.sender_time_us);
        *out_len = SC_PING_LEN;
        return SC_OK;
    case SC_REC_PONG:
        if (out_cap < SC_PONG_LEN) {
            return SC_ERR_BUFFER;
        }
        out[0] = SC_REC_PONG;
        put32(out + 1, rec->u.pong.ping_id);
        put64(out + 5, rec->u.pong.echo_time_us);
        put64(out + 13, rec->u.pong.responder_time_us);
        *out_len = SC_PONG_LEN;
        return SC_OK;
    case SC_REC_CONTROL:
        if (out_cap < SC_CONTROL_LEN) {
            return SC_ERR_BUFFER;
        }
        out[0] = SC_REC_CONTROL;
        out[1] = rec->u.control.frame_size;
        out[2] = rec->u.control.quality;
        out[3] = rec->u.control.fps_cap;
        out[4] = rec->u.control.suite;
        *out_len = SC_CONTROL_LEN;
        return SC_OK;
    case SC_REC_STATUS: {
        const sc_status *st = &rec->u.status;
        size_t ext = status_ext_len(st);
        if (out_cap < SC_STATUS_HEADER_LEN + ext) {
            return SC_ERR_BUFFER;
        }
        out[0] = SC_REC_STATUS;
        out[1] = (uint8_t)st->rssi_dbm; /* two's complement, as the wire's signed byte */
        out[2] = st->frame_size;
        out[3] = st->quality;
        out[4] = st->fps_cap;
        put16(out + 5, st->width);
        put16(out + 7, st->height);
        put32(out + 9, st->free_heap);
        put32(out + 13, st->free_psram);
        put32(out + 17, st->uptime_s);
        /* The text gets what the extension leaves of the buffer; the extension follows it. */
        int ret = encode_text(out, out_cap - ext, SC_STATUS_HEADER_LEN, st->firmware,
                              st->firmware_len, out_len);
        if (ret == SC_OK && ext > 0) {
            status_ext_encode(st, out + *out_len);
            *out_len += ext;
        }
        return ret;
    }
    case SC_REC_CLOSE:
        if (out_cap < SC_CLOSE_HEADER_LEN) {
            return SC_ERR_BUFFER;
        }
        out[0] = SC_REC_CLOSE;
        put16(out + 1, rec->u.close.code);
        return encode_text(out, out_cap, SC_CLOSE_HEADER_LEN, rec->u.close.reason,
                           rec->u.close.reason_len, out_len);
    }
    return SC_ERR_ARG;
}

/* A text field: the length byte ends the fixed header; `trailer` bytes (the STATUS extension)
 * may follow the text, and the record must end exactly after them. */
static int parse_text_trailer(const uint8_t *buf, size_t len, size_t header_len,
                              const char **text, size_t *text_len, size_t *trailer)
{
    if (len < header_len || (size_t)buf[header_len - 1] > len - header_len) {
        return SC_ERR_MALFORMED;
    }
    size_t n = buf[header_len - 1];
    if (!sc_utf8_valid(buf + header_len, n)) {
        return SC_ERR_MALFORMED;
    }
    *text = (const char *)buf + header_len;
    *text_len = n;
    *trailer = len - header_len - n;
    return SC_OK;
}

/* A text field that must end the record exactly. */
static int parse_text(const uint8_t *buf, size_t len, size_t header_len, const char **text,
                      size_t *text_len)
{
    size_t trailer = 0;
    int ret = parse_text_trailer(buf, len, header_len, text, text_len, &trailer);
    return ret == SC_OK && trailer != 0 ? SC_ERR_MALFORMED : ret;
}

/* The STATUS extension: none, or flags (not 0) and exactly one 32-bit value per set flag, in
 * bit order. Values of reserved flags (bits 2..7) are skipped: later fields can be added. */
static int parse_status_ext(const uint8_t *p, size_t n, sc_status *st)
{
    if (n == 0) {
        return SC_OK;
    }
    uint8_t flags = p[0];
    size_t fields = 0;
    for (unsigned bit = 0; bit < 8; bit++) {
        fields += (flags >> bit) & 1u;
    }
    if (flags == 0 || n != 1 + 4 * fields) {
        return SC_ERR_MALFORMED;
    }
    const uint8_t *v = p + 1;
    if (flags & SC_STATUS_EXT_FRAMES_DROPPED) {
        st->has_frames_dropped = true;
        st->frames_dropped = get32(v);
        v += 4;
    }
    if (flags & SC_STATUS_EXT_STACK_MIN_FREE) {
        st->has_stack_min_free = true;
        st->stack_min_free = get32(v);
    }
    return SC_OK;
}

int sc_record_parse(const uint8_t *buf, size_t len, sc_record *out)
{
    if ((buf == NULL && len > 0) || out == NULL) {
        return SC_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    if (len == 0 || len > SC_MAX_RECORD) {
        return SC_ERR_MALFORMED;
    }
    switch (buf[0]) {
    case SC_REC_FRAME_CHUNK: {
        if (len <= SC_CHUNK_HEADER_LEN) {
            return SC_ERR_MALFORMED;
        }
        sc_frame_chunk *c = &out->u.chunk;
        c->seq = get32(buf + 1);
        c->capture_us = get64(buf + 5);
        c->send_us = get64(buf + 13);
        c->total_len = get32(buf + 21);
        c->index = get16(buf + 25);
        c->count = get16(buf + 27);
        c->data = buf + SC_CHUNK_HEADER_LEN;
        c->data_len = len - SC_CHUNK_HEADER_LEN;
        break;
    }
    case SC_REC_PING:
        if (len != SC_PING_LEN) {
            return SC_ERR_MALFORMED;
        }
        out->u.ping.ping_id = get32(buf + 1);
        out->u.ping.sender_time_us = get64(buf + 5);
        break;
    case SC_REC_PONG:
        if (len != SC_PONG_LEN) {
            return SC_ERR_MALFORMED;
        }
        out->u.pong.ping_id = get32(buf + 1);
        out->u.pong.echo_time_us = get64(buf + 5);
        out->u.pong.responder_time_us = get64(buf + 13);
        break;
    case SC_REC_CONTROL:
        if (len != SC_CONTROL_LEN) {
            return SC_ERR_MALFORMED;
        }
        out->u.control.frame_size = buf[1];
        out->u.control.quality = buf[2];
        out->u.control.fps_cap = buf[3];
        out->u.control.suite = buf[4];
        break;
    case SC_REC_STATUS: {
        sc_status *st = &out->u.status;
        size_t ext = 0;
        int ret = parse_text_trailer(buf, len, SC_STATUS_HEADER_LEN, &st->firmware,
                                     &st->firmware_len, &ext);
        if (ret == SC_OK) {
            ret = parse_status_ext(buf + len - ext, ext, st);
        }
        if (ret != SC_OK) {
            memset(out, 0, sizeof *out);
            return ret;
        }
        st->rssi_dbm = (int8_t)(buf[1] > 127 ? (int)buf[1] - 256 : (int)buf[1]);
        st->frame_size = buf[2];
        st->quality = buf[3];
        st->fps_cap = buf[4];
        st->width = get16(buf + 5);
        st->height = get16(buf + 7);
        st->free_heap = get32(buf + 9);
        st->free_psram = get32(buf + 13);
        st->uptime_s = get32(buf + 17);
        break;
    }
    case SC_REC_CLOSE: {
        int ret = parse_text(buf, len, SC_CLOSE_HEADER_LEN, &out->u.close.reason,
                             &out->u.close.reason_len);
        if (ret != SC_OK) {
            return ret;
        }
        out->u.close.code = get16(buf + 1);
        break;
    }
    default:
        return SC_ERR_MALFORMED;
    }
    out->type = (sc_record_type)buf[0];
    return SC_OK;
}
