/* The client side of RFC 6455 that the camera needs, as a sans-I/O codec: the opening
 * handshake (request, Sec-WebSocket-Accept check), client frames, and an incremental parser
 * for the server's frames with the close code kept. No allocation, no Arduino or ESP-IDF
 * headers: portable C, compiled and exercised on the host against a real WebSocket server
 * by tests/firmware/test_ws_codec.py. ws_client.cpp does the I/O over a WiFiClient.
 *
 * What it deliberately does not do: extensions (the camera offers none, so a server that
 * answers with one is refused: PROTOCOL.md 1 forbids permessage-deflate), subprotocols, TLS
 * (Noise protects the payload), redirects, or UTF-8 validation of text messages and close
 * reasons (the camera closes on any text message and only logs close reasons).
 */
#ifndef SECURECAM_WS_CODEC_H
#define SECURECAM_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_NONCE_LEN 16            /* random bytes behind Sec-WebSocket-Key */
#define WS_KEY_LEN 24              /* base64 of the nonce */
#define WS_ACCEPT_LEN 28           /* base64 of a SHA-1 digest */
#define WS_MAX_CLIENT_HEADER 14    /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_MAX_CONTROL_PAYLOAD 125 /* ping, pong and close payloads */
#define WS_MAX_CLOSE_REASON 123    /* a close payload is the code (2) and the reason */
#define WS_MAX_RESPONSE 1024       /* the longest HTTP answer to the upgrade accepted */
#define WS_CLOSE_NO_STATUS 1005    /* a close frame without a code (never sent) */
#define WS_CLOSE_ABNORMAL 1006     /* no close frame at all (never sent) */
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_TOO_BIG 1009

enum {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};

/* ---- the opening handshake --------------------------------------------------------- */

/* Sec-WebSocket-Key: base64 of 16 random bytes into key (24 chars + NUL). 0 on success. */
int ws_key_encode(const uint8_t nonce[WS_NONCE_LEN], char key[WS_KEY_LEN + 1]);

/* The Sec-WebSocket-Accept a server must answer `key` with: base64(SHA-1(key || GUID)),
 * 28 chars + NUL. 0 on success, -1 if hashing failed. */
int ws_accept_for_key(const char *key, char accept[WS_ACCEPT_LEN + 1]);

/* The upgrade request "GET path HTTP/1.1" with Host "host:port" and no extension or
 * subprotocol offered. Returns its length (no NUL counted), 0 if it does not fit in cap. */
size_t ws_request_build(const char *host, uint16_t port, const char *path, const char *key,
                        char *out, size_t cap);

typedef enum {
    WS_RESPONSE_INCOMPLETE = 0, /* no blank line yet: read more */
    WS_RESPONSE_OK,             /* 101 with the right Upgrade, Connection and Accept */
    WS_RESPONSE_BAD_STATUS,     /* another status (e.g. 404 for a wrong path); see *status */
    WS_RESPONSE_BAD_HEADERS,    /* 101 but a missing or wrong header, or an extension */
    WS_RESPONSE_TOO_LONG        /* no end of the header within WS_MAX_RESPONSE bytes */
} ws_response;

/* Check the server's answer received so far (buf, len bytes). On OK, *header_len is the
 * number of bytes up to and including the blank line: bytes after it are WebSocket frames.
 * *status gets the HTTP status code once the status line is complete (0 before). */
ws_response ws_response_check(const uint8_t *buf, size_t len, const char *accept,
                              size_t *header_len, int *status);

/* ---- client frames ----------------------------------------------------------------- */

/* Bytes of a masked client frame header for a payload of `len` bytes: 6, 8 or 14. */
size_t ws_header_len(uint64_t len);

/* Write the header of one final (FIN) masked frame. Returns its length. */
size_t ws_frame_header(uint8_t opcode, uint64_t len, const uint8_t mask[4],
                       uint8_t out[WS_MAX_CLIENT_HEADER]);

/* XOR `data` with the mask key, the first byte with mask[0] (in place). */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4]);

/* A close frame's payload: the code big-endian, then the reason cut to 123 bytes (cut on a
 * UTF-8 boundary beforehand: sc_utf8_prefix_len). Returns its length. */
size_t ws_close_payload(uint16_t code, const char *reason, size_t reason_len,
                        uint8_t out[WS_MAX_CONTROL_PAYLOAD]);

/* ---- the server's frames ----------------------------------------------------------- */

typedef enum {
    WS_EV_NONE = 0, /* every input byte consumed, nothing complete */
    WS_EV_MESSAGE,  /* a complete text or binary message (fragments joined) */
    WS_EV_PING,     /* answer with a pong carrying the same payload */
    WS_EV_PONG,
    WS_EV_CLOSE,    /* the server's close frame: code (1005 when it had none) and reason */
    WS_EV_ERROR     /* a protocol violation: close with `code` (1002 or 1009); the parser is
                       dead from here on */
} ws_event_type;

typedef struct {
    ws_event_type type;
    bool text;          /* MESSAGE: a text message */
    bool truncated;     /* MESSAGE: longer than the buffer; data holds its first cap bytes */
    uint8_t *data;      /* MESSAGE: the message (writable, valid until the next feed);
                           PING/PONG: the payload; CLOSE: the reason (not NUL-terminated) */
    size_t len;         /* MESSAGE: bytes in data (at most cap); PING/PONG/CLOSE: as above */
    uint64_t total_len; /* MESSAGE: the message's real length */
    uint16_t code;      /* CLOSE: the status code; ERROR: the code to close with */
} ws_event;

typedef struct {
    uint8_t *buf; /* the caller's message buffer */
    size_t cap;
    uint64_t max_message; /* a longer message is an error (1009); truncation happens above cap */
    uint8_t hdr[WS_MAX_CLIENT_HEADER];
    uint8_t hdr_len;
    uint8_t hdr_need;
    uint8_t opcode;     /* of the frame being read */
    bool fin;
    uint64_t remaining; /* payload bytes of this frame still to come */
    bool in_message;    /* a fragmented data message is open */
    bool msg_text;
    uint64_t msg_len;
    uint8_t ctrl[WS_MAX_CONTROL_PAYLOAD];
    uint8_t ctrl_len;
    bool failed;
    uint16_t error_code;
} ws_parser;

/* buf/cap: where messages are assembled; max_message: the largest message accepted at all
 * (65535 for SecureCam). A message between cap and max_message is delivered truncated. */
void ws_parser_init(ws_parser *p, uint8_t *buf, size_t cap, uint64_t max_message);

/* Consume bytes until one event completes or the input is used up; *consumed says how many
 * were taken. Like sc_improv_parser_feed: call it in a loop, feeding what was not consumed,
 * until it returns WS_EV_NONE (which it does only once every byte is consumed). */
ws_event_type ws_parser_feed(ws_parser *p, const uint8_t *data, size_t len, size_t *consumed,
                             ws_event *ev);

#ifdef __cplusplus
}
#endif

#endif
