/* RFC 6455 client codec (ws_codec.h). SHA-1 and base64 come from mbedTLS, which both the
 * ESP32 Arduino core (ESP-IDF 4.4: 2.28, ESP-IDF 5: 3.x) and the host build provide. */
#include "ws_codec.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#if !defined(MBEDTLS_SHA1_C) || !defined(MBEDTLS_BASE64_C)
#error "the WebSocket handshake needs MBEDTLS_SHA1_C and MBEDTLS_BASE64_C"
#endif

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- the opening handshake --------------------------------------------------------- */

int ws_key_encode(const uint8_t nonce[WS_NONCE_LEN], char key[WS_KEY_LEN + 1])
{
    size_t olen = 0;
    int ret = mbedtls_base64_encode((unsigned char *)key, WS_KEY_LEN + 1, &olen, nonce,
                                    WS_NONCE_LEN);
    return ret == 0 && olen == WS_KEY_LEN ? 0 : -1;
}

int ws_accept_for_key(const char *key, char accept[WS_ACCEPT_LEN + 1])
{
    unsigned char text[WS_KEY_LEN + sizeof WS_GUID];
    unsigned char digest[20];
    size_t klen = strlen(key);
    if (klen != WS_KEY_LEN) {
        return -1;
    }
    memcpy(text, key, klen);
    memcpy(text + klen, WS_GUID, sizeof WS_GUID - 1);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int ret = mbedtls_sha1(text, klen + sizeof WS_GUID - 1, digest);
#else
    int ret = mbedtls_sha1_ret(text, klen + sizeof WS_GUID - 1, digest);
#endif
    if (ret != 0) {
        return -1;
    }
    size_t olen = 0;
    ret = mbedtls_base64_encode((unsigned char *)accept, WS_ACCEPT_LEN + 1, &olen, digest,
                                sizeof digest);
    return ret == 0 && olen == WS_ACCEPT_LEN ? 0 : -1;
}

size_t ws_request_build(const char *host, uint16_t port, const char *path, const char *key,
                        char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     path, host, (unsigned)port, key);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of s[0..n) and the NUL-terminated lowercase word. */
static bool equals_ci(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    if (n != wl) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != word[i]) {
            return false;
        }
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* True when the comma-separated list value[0..n) holds the token (case-insensitive). */
static bool has_token(const char *value, size_t n, const char *token)
{
    size_t start = 0;
    while (start <= n) {
        size_t end = start;
        while (end < n && value[end] != ',') {
            end++;
        }
        size_t a = start;
        size_t b = end;
        while (a < b && is_space(value[a])) {
            a++;
        }
        while (b > a && is_space(value[b - 1])) {
            b--;
        }
        if (equals_ci(value + a, b - a, token)) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

ws_response ws_response_check(const uint8_t *buf, size_t len, const char *accept,
                              size_t *header_len, int *status)
{
    const char *text = (const char *)buf;
    *status = 0;
    /* The status line: "HTTP/1.1 101 Switching Protocols". */
    size_t line_end = 0;
    while (line_end + 1 < len && !(text[line_end] == '\r' && text[line_end + 1] == '\n')) {
        line_end++;
    }
    if (line_end + 1 < len) {
        if (line_end < 12 || memcmp(text, "HTTP/1.1 ", 9) != 0 || text[9] < '0' ||
            text[9] > '9' || text[10] < '0' || text[10] > '9' || text[11] < '0' ||
            text[11] > '9' || (line_end > 12 && text[12] != ' ')) {
            return WS_RESPONSE_BAD_STATUS;
        }
        *status = (text[9] - '0') * 100 + (text[10] - '0') * 10 + (text[11] - '0');
    }
    /* The blank line ending the header. */
    size_t end = 0;
    bool complete = false;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(text + i, "\r\n\r\n", 4) == 0) {
            end = i + 4;
            complete = true;
            break;
        }
    }
    if (!complete) {
        if (*status != 0 && *status != 101) {
            return WS_RESPONSE_BAD_STATUS; /* no need to wait for the rest */
        }
        return len >= WS_MAX_RESPONSE ? WS_RESPONSE_TOO_LONG : WS_RESPONSE_INCOMPLETE;
    }
    if (end > WS_MAX_RESPONSE) {
        return WS_RESPONSE_TOO_LONG;
    }
    if (*status != 101) {
        return WS_RESPONSE_BAD_STATUS;
    }
    bool upgrade = false;
    bool connection = false;
    bool accepted = false;
    size_t pos = line_end + 2;
    while (pos < end - 2) { /* every header line before the blank one */
        size_t eol = pos;
        while (eol + 1 < end && !(text[eol] == '\r' && text[eol + 1] == '\n')) {
            eol++;
        }
        size_t colon = pos;
        while (colon < eol && text[colon] != ':') {
            colon++;
        }
        if (colon == eol) {
            return WS_RESPONSE_BAD_HEADERS; /* a header line without a colon */
        }
        size_t v = colon + 1;
        size_t ve = eol;
        while (v < ve && is_space(text[v])) {
            v++;
        }
        while (ve > v && is_space(text[ve - 1])) {
            ve--;
        }
        const char *name = text + pos;
        size_t nlen = colon - pos;
        const char *value = text + v;
        size_t vlen = ve - v;
        if (equals_ci(name, nlen, "upgrade")) {
            upgrade = equals_ci(value, vlen, "websocket");
        } else if (equals_ci(name, nlen, "connection")) {
            connection = has_token(value, vlen, "upgrade");
        } else if (equals_ci(name, nlen, "sec-websocket-accept")) {
            accepted = vlen == WS_ACCEPT_LEN && memcmp(value, accept, WS_ACCEPT_LEN) == 0;
        } else if (equals_ci(name, nlen, "sec-websocket-extensions") ||
                   equals_ci(name, nlen, "sec-websocket-protocol")) {
            return WS_RESPONSE_BAD_HEADERS; /* none was offered, so none may be chosen */
        }
        pos = eol + 2;
    }
    if (!upgrade || !connection || !accepted) {
        return WS_RESPONSE_BAD_HEADERS;
    }
    *header_len = end;
    return WS_RESPONSE_OK;
}

/* ---- client frames ----------------------------------------------------------------- */

size_t ws_header_len(uint64_t len)
{
    return len < 126 ? 6 : len <= 0xFFFF ? 8 : 14;
}

size_t ws_frame_header(uint8_t opcode, uint64_t len, const uint8_t mask[4],
                       uint8_t out[WS_MAX_CLIENT_HEADER])
{
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | (opcode & 0x0F)); /* FIN, no RSV bits */
    if (len < 126) {
        out[n++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xFFFF) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) {
            out[n++] = (uint8_t)(len >> shift);
        }
    }
    memcpy(out + n, mask, 4);
    return n + 4;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4])
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        data[i] ^= mask[0];
        data[i + 1] ^= mask[1];
        data[i + 2] ^= mask[2];
        data[i + 3] ^= mask[3];
    }
    for (; i < len; i++) {
        data[i] ^= mask[i & 3];
    }
}

size_t ws_close_payload(uint16_t code, const char *reason, size_t reason_len,
                        uint8_t out[WS_MAX_CONTROL_PAYLOAD])
{
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason == NULL) {
        reason_len = 0;
    }
    if (reason_len > WS_MAX_CLOSE_REASON) {
        reason_len = WS_MAX_CLOSE_REASON;
    }
    if (reason_len > 0) {
        memcpy(out + 2, reason, reason_len);
    }
    return 2 + reason_len;
}

/* ---- the server's frames ----------------------------------------------------------- */

void ws_parser_init(ws_parser *p, uint8_t *buf, size_t cap, uint64_t max_message)
{
    memset(p, 0, sizeof *p);
    p->buf = buf;
    p->cap = cap;
    p->max_message = max_message;
    p->hdr_need = 2;
}

static ws_event_type fail(ws_parser *p, uint16_t code, ws_event *ev)
{
    p->failed = true;
    p->error_code = code;
    ev->type = WS_EV_ERROR;
    ev->code = code;
    return WS_EV_ERROR;
}

/* Codes a peer may send in a close frame (RFC 6455 7.4, plus the registered 1012-1014). */
static bool close_code_valid(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* The header is complete: validate it and set up the payload. */
static ws_event_type start_frame(ws_parser *p, ws_event *ev)
{
    uint8_t b0 = p->hdr[0];
    uint8_t b1 = p->hdr[1];
    p->fin = (b0 & 0x80) != 0;
    p->opcode = b0 & 0x0F;
    uint64_t len = b1 & 0x7F;
    if (len == 126) {
        len = ((uint64_t)p->hdr[2] << 8) | p->hdr[3];
    } else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++) {
            len = (len << 8) | p->hdr[i];
        }
        if (len >> 63) {
            return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
        }
    }
    bool control = (p->opcode & 0x08) != 0;
    if (control) {
        if (len > WS_MAX_CONTROL_PAYLOAD) {
            return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
        }
        p->ctrl_len = 0;
    } else if (p->opcode == WS_OP_CONTINUATION) {
        if (!p->in_message) {
            return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
        }
    } else { /* TEXT or BINARY starts a message */
        if (p->in_message) {
            return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
        }
        p->in_message = true;
        p->msg_text = p->opcode == WS_OP_TEXT;
        p->msg_len = 0;
    }
    if (!control && len > p->max_message - p->msg_len) {
        return fail(p, WS_CLOSE_TOO_BIG, ev);
    }
    p->remaining = len;
    return WS_EV_NONE;
}

/* The frame's payload is complete: produce its event, if any, and expect a new header. */
static ws_event_type end_frame(ws_parser *p, ws_event *ev)
{
    p->hdr_len = 0;
    p->hdr_need = 2;
    switch (p->opcode) {
    case WS_OP_PING:
    case WS_OP_PONG:
        ev->type = p->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
        ev->data = p->ctrl;
        ev->len = p->ctrl_len;
        return ev->type;
    case WS_OP_CLOSE:
        if (p->ctrl_len == 1) {
            return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
        }
        ev->type = WS_EV_CLOSE;
        ev->code = WS_CLOSE_NO_STATUS;
        ev->data = p->ctrl + 2;
        ev->len = 0;
        if (p->ctrl_len >= 2) {
            ev->code = (uint16_t)((p->ctrl[0] << 8) | p->ctrl[1]);
            ev->len = (size_t)p->ctrl_len - 2;
            if (!close_code_valid(ev->code)) {
                return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
            }
        }
        return WS_EV_CLOSE;
    default:
        break;
    }
    if (!p->fin) {
        return WS_EV_NONE; /* more fragments of this message follow */
    }
    p->in_message = false;
    ev->type = WS_EV_MESSAGE;
    ev->text = p->msg_text;
    ev->truncated = p->msg_len > p->cap;
    ev->data = p->buf;
    ev->len = ev->truncated ? p->cap : (size_t)p->msg_len;
    ev->total_len = p->msg_len;
    return WS_EV_MESSAGE;
}

ws_event_type ws_parser_feed(ws_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                             ws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    *consumed = 0;
    if (p->failed) {
        ev->type = WS_EV_ERROR;
        ev->code = p->error_code;
        return WS_EV_ERROR;
    }
    size_t off = 0;
    while (off < len) {
        if (p->hdr_len < p->hdr_need) {
            p->hdr[p->hdr_len++] = data[off++];
            if (p->hdr_len == 2) {
                uint8_t b0 = p->hdr[0];
                uint8_t b1 = p->hdr[1];
                uint8_t op = b0 & 0x0F;
                bool known = op == WS_OP_CONTINUATION || op == WS_OP_TEXT ||
                             op == WS_OP_BINARY || op == WS_OP_CLOSE || op == WS_OP_PING ||
                             op == WS_OP_PONG;
                /* No extension was negotiated (RSV must be 0); a server never masks; a
                 * control frame is never fragmented. */
                if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0 || !known ||
                    ((op & 0x08) != 0 && (b0 & 0x80) == 0)) {
                    *consumed = off;
                    return fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
                }
                uint8_t l7 = b1 & 0x7F;
                p->hdr_need = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
            }
            if (p->hdr_len < p->hdr_need) {
                continue;
            }
            ws_event_type t = start_frame(p, ev);
            if (t == WS_EV_ERROR) {
                *consumed = off;
                return t;
            }
            if (p->remaining == 0) {
                t = end_frame(p, ev);
                if (t != WS_EV_NONE) {
                    *consumed = off;
                    return t;
                }
            }
            continue;
        }
        /* Payload bytes of the current frame. */
        size_t n = len - off;
        if ((uint64_t)n > p->remaining) {
            n = (size_t)p->remaining;
        }
        if ((p->opcode & 0x08) != 0) {
            memcpy(p->ctrl + p->ctrl_len, data + off, n);
            p->ctrl_len = (uint8_t)(p->ctrl_len + n);
        } else {
            if (p->msg_len < p->cap) {
                size_t room = p->cap - (size_t)p->msg_len;
                memcpy(p->buf + p->msg_len, data + off, n < room ? n : room);
            }
            p->msg_len += n;
        }
        off += n;
        p->remaining -= n;
        if (p->remaining == 0) {
            ws_event_type t = end_frame(p, ev);
            if (t != WS_EV_NONE) {
                *consumed = off;
                return t;
            }
        }
    }
    *consumed = off;
    return WS_EV_NONE;
}
