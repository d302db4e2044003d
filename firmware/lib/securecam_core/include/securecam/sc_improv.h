/* Improv Wi-Fi serial framing (https://www.improv-wifi.com/serial/): a byte-stream parser
 * that tolerates boot-log noise, and packet encoders. Sans-I/O, no allocation.
 *
 * Packet: "IMPROV" | version (1) | type | length | data[length] | checksum, where checksum
 * is the low 8 bits of the sum of every preceding byte, header included. An RPC command's
 * data is command | data_length | payload; an RPC result's data is command | data_length |
 * a list of length-prefixed strings.
 */
#ifndef SECURECAM_SC_IMPROV_H
#define SECURECAM_SC_IMPROV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_IMPROV_VERSION 1
#define SC_IMPROV_HEADER_LEN 9 /* "IMPROV", version, type, length */
#define SC_IMPROV_MAX_DATA 255
#define SC_IMPROV_MAX_PACKET (SC_IMPROV_HEADER_LEN + SC_IMPROV_MAX_DATA + 1)
/* An RPC's own command and length bytes take 2 of the packet's 255 data bytes. */
#define SC_IMPROV_MAX_RPC_PAYLOAD (SC_IMPROV_MAX_DATA - 2)

enum {
    SC_IMPROV_TYPE_CURRENT_STATE = 0x01, /* device -> client */
    SC_IMPROV_TYPE_ERROR_STATE = 0x02,   /* device -> client */
    SC_IMPROV_TYPE_RPC_COMMAND = 0x03,   /* client -> device */
    SC_IMPROV_TYPE_RPC_RESULT = 0x04     /* device -> client */
};

enum {
    SC_IMPROV_STATE_READY = 0x02, /* authorized, ready to accept credentials */
    SC_IMPROV_STATE_PROVISIONING = 0x03,
    SC_IMPROV_STATE_PROVISIONED = 0x04
};

enum {
    SC_IMPROV_ERROR_NONE = 0x00,
    SC_IMPROV_ERROR_INVALID_RPC = 0x01,
    SC_IMPROV_ERROR_UNKNOWN_RPC = 0x02,
    SC_IMPROV_ERROR_UNABLE_TO_CONNECT = 0x03,
    SC_IMPROV_ERROR_UNKNOWN = 0xFF
};

enum {
    SC_IMPROV_CMD_WIFI_SETTINGS = 0x01,
    SC_IMPROV_CMD_GET_STATE = 0x02,
    SC_IMPROV_CMD_GET_INFO = 0x03,
    SC_IMPROV_CMD_SCAN = 0x04,
    SC_IMPROV_CMD_HOSTNAME = 0x05,
    SC_IMPROV_CMD_DEVICE_NAME = 0x06,
    SC_IMPROV_CMD_NETWORK_STATE = 0x07
};

/* A complete, checksum-verified packet (any type). */
typedef struct {
    uint8_t type;
    uint8_t len;
    uint8_t data[SC_IMPROV_MAX_DATA];
} sc_improv_packet;

/* A byte string inside a packet (not NUL-terminated). */
typedef struct {
    const uint8_t *ptr;
    size_t len;
} sc_improv_str;

typedef enum {
    SC_IMPROV_NEED_MORE = 0, /* every input byte was consumed; no complete packet */
    SC_IMPROV_PACKET,        /* *out holds a packet */
    SC_IMPROV_BAD_CHECKSUM   /* a framed packet failed its checksum; the parser resyncs */
} sc_improv_event;

typedef enum {
    SC_IMPROV_ABANDONED_NOTHING = 0, /* the buffer was empty */
    SC_IMPROV_ABANDONED_NOISE,       /* a partial header: noise, not worth an error */
    SC_IMPROV_ABANDONED_PACKET       /* a full header whose packet never completed */
} sc_improv_abandon;

typedef struct {
    uint8_t buf[SC_IMPROV_MAX_PACKET];
    size_t len;
} sc_improv_parser;

void sc_improv_parser_init(sc_improv_parser *p);

/* Consume bytes from data (may be NULL when len is 0) until a packet or a checksum failure.
 * *consumed says how many input bytes were taken. Contract: returns NEED_MORE only once all
 * len bytes are consumed, so call it in a loop until it does; a packet may complete from
 * bytes already buffered, so keep looping even when nothing is left to feed.
 *
 * Bytes before "IMPROV" are skipped, as are headers with another version. After a bad
 * checksum the parser rescans from the byte after that header's 'I', so a valid packet
 * hidden in the bytes of a corrupted one is still found. Consumed bytes are zeroed in the
 * buffer: packets carry Wi-Fi passwords and keys. */
sc_improv_event sc_improv_parser_feed(sc_improv_parser *p, const uint8_t *data, size_t len,
                                      size_t *consumed, sc_improv_packet *out);

/* The line went idle with a partial packet buffered (a real device calls this after ~100 ms
 * of silence): drop that packet's first byte so the rest is rescanned by the next feed
 * (call it with len 0 to drain). */
sc_improv_abandon sc_improv_parser_abandon(sc_improv_parser *p);

/* True when bytes are buffered, i.e. a partial packet could still complete. */
bool sc_improv_parser_pending(const sc_improv_parser *p);

/* The checksum of n bytes. */
uint8_t sc_improv_checksum(const uint8_t *bytes, size_t n);

/* Encoders write one packet (no trailing newline) into out and return its length, or 0
 * when it does not fit in cap or the arguments are out of range. */
size_t sc_improv_encode_packet(uint8_t type, const uint8_t *data, size_t len, uint8_t *out,
                               size_t cap);
size_t sc_improv_encode_state(uint8_t state, uint8_t *out, size_t cap);
size_t sc_improv_encode_error(uint8_t error, uint8_t *out, size_t cap);
/* RPC result: command | total | strings, each string at most 255 bytes. */
size_t sc_improv_encode_result(uint8_t command, const sc_improv_str *strings, size_t count,
                               uint8_t *out, size_t cap);
/* RPC command (client side; used by tests and host tools). */
size_t sc_improv_encode_rpc(uint8_t command, const uint8_t *payload, size_t len, uint8_t *out,
                            size_t cap);

/* Split an RPC command packet into its command and payload; false when the packet is not
 * an RPC command or its inner length disagrees with the packet length. */
bool sc_improv_rpc_split(const sc_improv_packet *packet, uint8_t *command,
                         const uint8_t **payload, size_t *len);

/* Split a list of length-prefixed strings that must fill data exactly. Returns the number
 * of strings, or -1 if the list is malformed or has more than max strings. */
int sc_improv_strings_split(const uint8_t *data, size_t len, sc_improv_str *out, size_t max);

#ifdef __cplusplus
}
#endif

#endif
