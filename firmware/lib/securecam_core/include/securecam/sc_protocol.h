/* SecureCam wire protocol v1 (docs/PROTOCOL.md): hello, records, and the camera's session.
 *
 * Sans-I/O and allocation-free after the handshake: the caller owns every buffer and the
 * WebSocket. Functions return SC_OK (0) or a negative sc_err (sc_crypto.h and below). On an
 * error an output buffer may hold garbage, but unless stated otherwise no state changed (in
 * particular no nonce was consumed): SC_ERR_BUFFER can be retried with a larger buffer.
 */
#ifndef SECURECAM_SC_PROTOCOL_H
#define SECURECAM_SC_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securecam/sc_crypto.h"
#include "securecam/sc_noise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------- limits */

#define SC_PROTOCOL_VERSION 1
#define SC_HELLO_HEADER_LEN 7 /* "SCAM", version, suite, id_len */
#define SC_DEVICE_ID_MAX 32
#define SC_HELLO_MAX (SC_HELLO_HEADER_LEN + SC_DEVICE_ID_MAX)
#define SC_NOISE_MSG_LEN 48                               /* message 1 and message 2 */
#define SC_FIRST_MESSAGE_MAX (SC_HELLO_MAX + SC_NOISE_MSG_LEN) /* 87 */
#define SC_MAX_MESSAGE 65535u                             /* one WebSocket message */
#define SC_MAX_RECORD (SC_MAX_MESSAGE - SC_AEAD_TAG_LEN)  /* 65519, in both suites */
#define SC_CHUNK_HEADER_LEN 29
#define SC_MAX_CHUNK_DATA (SC_MAX_RECORD - SC_CHUNK_HEADER_LEN) /* 65490 */
#define SC_MAX_FRAME_BYTES 2097152u
#define SC_MAX_CHUNKS 64
#define SC_PING_LEN 13
#define SC_PONG_LEN 21
#define SC_CONTROL_LEN 5
#define SC_STATUS_HEADER_LEN 22
/* STATUS extension after the firmware text (PROTOCOL.md 4, STATUS): one flags byte, then a
 * 32-bit value for each set bit, in bit order; absent when no optional field is reported. */
#define SC_STATUS_EXT_FRAMES_DROPPED 0x01u
#define SC_STATUS_EXT_STACK_MIN_FREE 0x02u
#define SC_STATUS_EXT_MAX 9 /* flags + two values, as sent by this version */
#define SC_STATUS_MAX_LEN (SC_STATUS_HEADER_LEN + SC_MAX_TEXT + SC_STATUS_EXT_MAX) /* 154 */
#define SC_CLOSE_HEADER_LEN 4
#define SC_MAX_TEXT 123    /* longest firmware/reason text sent (fits a WebSocket close) */
#define SC_MAX_TEXT_RX 255 /* longest text accepted */
#define SC_UNCHANGED 0     /* CONTROL: keep this setting */
#define SC_NO_FPS_CAP 255
/* Largest message an app can validly send a camera (a CLOSE with a 255-byte reason, sealed):
 * a receive buffer of this size suffices; anything longer is malformed whatever it holds. */
#define SC_CAMERA_RX_MAX (SC_CLOSE_HEADER_LEN + SC_MAX_TEXT_RX + SC_AEAD_TAG_LEN)
/* Sealed size of a record: the caller's buffer for a chunk of n data bytes needs
 * SC_CHUNK_MESSAGE_LEN(n); the plain suite needs 16 bytes less. */
#define SC_SEALED_LEN(record_len) ((record_len) + SC_AEAD_TAG_LEN)
#define SC_CHUNK_MESSAGE_LEN(data_len) SC_SEALED_LEN(SC_CHUNK_HEADER_LEN + (data_len))
#define SC_ANSWER_TIMEOUT_US 5000000u /* WAIT_ANSWER: give up after 5 s */
#define SC_IDLE_TIMEOUT_US 10000000u  /* TRANSPORT: the app pings every second */
#define SC_MAX_OUTSTANDING_PINGS 8
#define SC_MAX_PENDING_PONGS 8

typedef enum { SC_SUITE_NOISE = 1, SC_SUITE_PLAIN = 2 } sc_suite;

typedef enum {
    SC_CLOSE_NORMAL = 1000,
    SC_CLOSE_GOING_AWAY = 1001,
    SC_CLOSE_UNSUPPORTED_DATA = 1003, /* a text WebSocket message */
    SC_CLOSE_ABNORMAL = 1006,         /* no close frame: connection lost (never sent) */
    SC_CLOSE_MESSAGE_TOO_BIG = 1009,
    SC_CLOSE_INTERNAL_ERROR = 1011, /* a local failure: RNG, allocation, API misuse */
    SC_CLOSE_BAD_HELLO = 4001,
    SC_CLOSE_UNSUPPORTED_VERSION = 4002,
    SC_CLOSE_UNKNOWN_DEVICE = 4003,
    SC_CLOSE_AUTH_FAILED = 4004,
    SC_CLOSE_PLAIN_NOT_ALLOWED = 4005,
    SC_CLOSE_HANDSHAKE_TIMEOUT = 4006,
    SC_CLOSE_DECRYPT_FAILED = 4007,
    SC_CLOSE_MALFORMED_RECORD = 4008,
    SC_CLOSE_FRAME_TOO_LARGE = 4009,
    SC_CLOSE_CHUNK_SEQUENCE = 4010,
    SC_CLOSE_IDLE_TIMEOUT = 4011,
    SC_CLOSE_TOO_MANY_CONNECTIONS = 4012,
    SC_CLOSE_REPLACED = 4013,
    SC_CLOSE_DEVICE_REMOVED = 4014,
    SC_CLOSE_SERVER_REJECTED = 4015,
} sc_close_code;

/* Protocol errors: each maps to the close code in its comment (sc_close_code_for). */
enum {
    SC_ERR_MALFORMED = SC_ERR_PROTOCOL_BASE - 1, /* 4008: record layout, type, UTF-8, direction */
    SC_ERR_REJECTED = SC_ERR_PROTOCOL_BASE - 2,  /* 4015: the app's handshake answer failed */
    SC_ERR_BAD_HELLO = SC_ERR_PROTOCOL_BASE - 3, /* 4001 */
    SC_ERR_VERSION = SC_ERR_PROTOCOL_BASE - 4,   /* 4002 */
};

/* The WebSocket close code for an error: SC_ERR_AUTH -> 4007, SC_ERR_MALFORMED -> 4008,
 * SC_ERR_REJECTED -> 4015, SC_ERR_BAD_HELLO -> 4001, SC_ERR_VERSION -> 4002,
 * SC_ERR_TOO_LONG -> 1009; anything else (a local failure) -> 1011. */
uint16_t sc_close_code_for(int err);

/* True for the identity rejections after which retrying cannot help until the configuration
 * changes (4001..4005, 4015). They are unauthenticated: back off slowly, never stop (6.3). */
bool sc_close_code_is_rejection(uint16_t code);

/* ------------------------------------------------------------------------------ text */

/* Strict UTF-8 (no overlongs, surrogates or code points over U+10FFFF), like Python's codec. */
bool sc_utf8_valid(const uint8_t *text, size_t len);

/* Length of the longest prefix of `text`, at most `max` bytes, that is valid UTF-8: how
 * senders truncate firmware and reason texts without cutting a character in half. */
size_t sc_utf8_prefix_len(const uint8_t *text, size_t len, size_t max);

/* ------------------------------------------------------------------------- the hello */

/* 1..32 chars of A-Z a-z 0-9 . _ -, the first a letter or digit. */
bool sc_device_id_valid(const char *id, size_t len);

/* "SCAM" | 1 | suite | id_len | id into out (7 + id_len bytes). SC_ERR_ARG for a bad id or
 * suite. */
int sc_hello_encode(sc_suite suite, const char *device_id, uint8_t *out, size_t out_cap,
                    size_t *out_len);

typedef struct {
    uint8_t version;
    sc_suite suite;
    char device_id[SC_DEVICE_ID_MAX + 1]; /* NUL-terminated */
    size_t hello_len;                     /* bytes of the message that are the hello */
} sc_hello;

/* The app's checks in the app's order (3.1, steps 1-5): SC_ERR_BAD_HELLO or SC_ERR_VERSION.
 * What follows the hello (message 1 or nothing) starts at msg + out->hello_len. */
int sc_hello_parse(const uint8_t *msg, size_t len, sc_hello *out);

/* The key fingerprint: SHA-256("securecam-fp-v1:" || psk)[0..8]; `text` gets the display form
 * "e4a5-37e2-d346-a02b" (19 chars + NUL). Either output may be NULL. */
int sc_psk_fingerprint(const uint8_t psk[SC_NOISE_PSK_LEN], uint8_t raw[8], char text[20]);

/* --------------------------------------------------------------------------- records */

typedef enum {
    SC_REC_FRAME_CHUNK = 0x01,
    SC_REC_PING = 0x02,
    SC_REC_PONG = 0x03,
    SC_REC_CONTROL = 0x04,
    SC_REC_STATUS = 0x05,
    SC_REC_CLOSE = 0x06,
} sc_record_type;

typedef struct {
    uint32_t seq;
    uint64_t capture_us;
    uint64_t send_us;
    uint32_t total_len;
    uint16_t index;
    uint16_t count;
    const uint8_t *data;
    size_t data_len;
} sc_frame_chunk;

typedef struct {
    uint32_t ping_id;
    uint64_t sender_time_us;
} sc_ping;

typedef struct {
    uint32_t ping_id;
    uint64_t echo_time_us;
    uint64_t responder_time_us;
} sc_pong;

typedef struct {
    uint8_t frame_size; /* FrameSize code 1..10, or SC_UNCHANGED */
    uint8_t quality;    /* 4..63, or SC_UNCHANGED */
    uint8_t fps_cap;    /* 1..254, SC_NO_FPS_CAP, or SC_UNCHANGED */
    uint8_t suite;      /* sc_suite, or SC_UNCHANGED */
} sc_control;

typedef struct {
    int8_t rssi_dbm; /* 0 when unknown */
    uint8_t frame_size;
    uint8_t quality;
    uint8_t fps_cap;
    uint16_t width;
    uint16_t height;
    uint32_t free_heap;
    uint32_t free_psram;
    uint32_t uptime_s;
    const char *firmware; /* UTF-8, need not be NUL-terminated; encoding truncates to 123 */
    size_t firmware_len;
    /* Optional health fields, each sent only when its has_ flag is true: a zeroed struct
     * (memset 0) reports both as unknown and encodes the STATUS without an extension. */
    bool has_frames_dropped;
    uint32_t frames_dropped; /* frames captured but not sent because the link could not take
                                them (latest frame wins), since boot, wrapping at 2^32 */
    bool has_stack_min_free;
    uint32_t stack_min_free; /* the loop task's least free stack ever, bytes
                                (uxTaskGetStackHighWaterMark) */
} sc_status;

typedef struct {
    uint16_t code;
    const char *reason; /* UTF-8, need not be NUL-terminated; encoding truncates to 123 */
    size_t reason_len;
} sc_close;

typedef struct {
    sc_record_type type;
    union {
        sc_frame_chunk chunk;
        sc_ping ping;
        sc_pong pong;
        sc_control control;
        sc_status status;
        sc_close close;
    } u;
} sc_record;

/* Serialise one record (at most SC_MAX_RECORD bytes). Texts are cut to their longest valid
 * UTF-8 prefix of at most 123 bytes. SC_ERR_ARG for an unknown type or a chunk whose data is
 * empty or over SC_MAX_CHUNK_DATA. */
int sc_record_encode(const sc_record *rec, uint8_t *out, size_t out_cap, size_t *out_len);

/* The 29-byte FRAME_CHUNK header. */
void sc_chunk_header_encode(uint32_t seq, uint64_t capture_us, uint64_t send_us,
                            uint32_t total_len, uint16_t index, uint16_t count,
                            uint8_t out[SC_CHUNK_HEADER_LEN]);

/* Parse one record exactly as the reference does: SC_ERR_MALFORMED for an empty record, one
 * over SC_MAX_RECORD, an unknown type, a length other than the layout's, a chunk without
 * data, text that is not UTF-8 or whose length byte disagrees, or a STATUS extension whose
 * flags are 0 or whose length is not 1 + 4 per set flag (the values of reserved flags are
 * skipped). Pointers in `out` point into `buf`. Chunk semantics (count 0, index >= count,
 * limits) are the reassembler's. */
int sc_record_parse(const uint8_t *buf, size_t len, sc_record *out);

/* ---------------------------------------------------------------- the camera session */

/* Device clock: microseconds since boot from one monotonic source (esp_timer_get_time). */
typedef struct {
    uint64_t (*fn)(void *ctx);
    void *ctx;
} sc_clock;

typedef enum {
    SC_STATE_IDLE = 0,    /* initialised, first message not produced yet */
    SC_STATE_WAIT_ANSWER, /* first message out, waiting for message 2 / the plain answer */
    SC_STATE_TRANSPORT,
    SC_STATE_CLOSED, /* keys wiped; see sc_session_close_code */
} sc_session_state;

typedef enum {
    SC_EVENT_NONE = 0,       /* nothing for the caller (e.g. an unsolicited PONG) */
    SC_EVENT_HANDSHAKE_DONE, /* now send STATUS (sc_session_status) at once */
    SC_EVENT_CONTROL,        /* apply it, then send a STATUS with the settings in force */
    SC_EVENT_PING,           /* its PONG is queued: drain with sc_session_poll */
    SC_EVENT_PONG,           /* the answer to one of our own pings, with the clock sample */
    SC_EVENT_CLOSE,          /* the app's authenticated goodbye; the session is CLOSED */
} sc_event_type;

typedef struct {
    sc_event_type type;
    sc_control control;   /* CONTROL: fields as received, unknown values included */
    uint8_t switch_suite; /* CONTROL: the sc_suite to reconnect in now, 0 when none. Set only
                             for a known suite other than this session's (and NOISE only with
                             a key); the camera then finishes its frame, closes with 1000 and
                             reconnects at once (PROTOCOL.md 4, suite switch) */
    sc_ping ping;         /* PING */
    sc_pong pong;         /* PONG */
    uint64_t ping_sent_us; /* PONG: our clock when we sent that ping */
    int64_t rtt_us;        /* PONG: rx time - ping_sent_us */
    int64_t offset_us;     /* PONG: peer clock - ours = responder time - floor((t0 + t1) / 2) */
    uint16_t close_code;   /* CLOSE */
    uint8_t reason_len;    /* CLOSE */
    char reason[SC_MAX_TEXT_RX + 1]; /* CLOSE: valid UTF-8, NUL-terminated */
} sc_event;

/* One connection of the camera, the Noise initiator (mirrors CameraSession in
 * app/protocol/session.py). Not thread-safe: serialise every call on one session with one
 * lock and send the messages it produces in the order they were produced, each as one binary
 * WebSocket message (each consumed the next nonce). Treat the fields as private. */
typedef struct {
    sc_session_state state;
    sc_suite suite;
    bool has_psk;
    bool status_sent;
    bool frame_active;
    bool has_last_seq;
    uint8_t hello[SC_HELLO_MAX];
    uint8_t hello_len;
    sc_handshake hs;
    sc_cipher tx;
    sc_cipher rx;
    sc_rng rng;
    sc_clock clock;
    uint64_t started_us;
    uint64_t last_rx_us;
    uint8_t handshake_hash[SC_NOISE_HASHLEN];
    /* our own pings awaiting a PONG */
    struct {
        uint32_t id;
        uint64_t sent_us;
    } pings[SC_MAX_OUTSTANDING_PINGS];
    uint8_t ping_count;
    uint32_t next_ping_id;
    /* PONGs owed to the app, oldest first */
    sc_pong pongs[SC_MAX_PENDING_PONGS];
    uint8_t pong_head;
    uint8_t pong_count;
    /* the frame being sent */
    const uint8_t *frame;
    size_t frame_len;
    size_t frame_off;
    size_t chunk_data;
    uint32_t frame_seq;
    uint64_t capture_us;
    uint64_t send_us;
    uint16_t chunk_index;
    uint16_t chunk_count;
    uint32_t last_seq;
    /* why the session ended */
    uint16_t close_code;
    char close_reason[SC_MAX_TEXT + 1];
} sc_session;

/* sizeof(sc_session) and sizeof(sc_event), for foreign-function callers. */
size_t sc_session_size(void);
size_t sc_event_size(void);

/* Prepare a session. `device_id` must be valid (sc_device_id_valid); `psk` (32 bytes, copied)
 * is required for SC_SUITE_NOISE and optional for PLAIN (it only permits a CONTROL switch to
 * NOISE). `rng` must be a CSPRNG (esp_fill_random with the radio on); its first request is
 * the 32-byte ephemeral private key, made by sc_session_start. Every initialised session
 * must end with sc_session_wipe. */
int sc_session_init(sc_session *s, const char *device_id, const uint8_t *psk, sc_suite suite,
                    sc_rng rng, sc_clock clock);

/* The first message: hello || Noise message 1 (plain: the hello alone), at most
 * SC_FIRST_MESSAGE_MAX bytes. IDLE -> WAIT_ANSWER. Send nothing else until the answer. */
int sc_session_start(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len);

/* Process one binary message received at device time `rx_us`. `msg` is decrypted in place
 * (its contents are overwritten). Fills `ev` (SC_EVENT_NONE when there is nothing to do).
 * On SC_ERR_REJECTED (bad message 2 or non-empty plain answer), SC_ERR_AUTH (transport
 * decryption failed: tampered, replayed, reordered, wrong key), SC_ERR_MALFORMED (bad or
 * wrong-direction record), SC_ERR_TOO_LONG (over 65535 bytes) or a local failure (1011) the
 * session is CLOSED with sc_close_code_for(err): close the WebSocket with
 * sc_session_close_code/_reason; no CLOSE record follows such a failure. Only SC_ERR_ARG and
 * SC_ERR_STATE leave the session as it was. In CLOSED, messages are ignored (SC_OK, NONE). */
int sc_session_receive(sc_session *s, uint8_t *msg, size_t len, uint64_t rx_us, sc_event *ev);

/* Seal a STATUS record. Required as the first record after SC_EVENT_HANDSHAKE_DONE: until it
 * is sent, sc_session_poll produces nothing and pings and frames are refused (SC_ERR_STATE).
 * The buffer needs SC_SEALED_LEN(22 + text length + extension) bytes, the extension being 0
 * bytes when neither has_ flag is set, else 1 + 4 per field reported;
 * SC_SEALED_LEN(SC_STATUS_MAX_LEN) always suffices. */
int sc_session_status(sc_session *s, const sc_status *status, uint8_t *out, size_t out_cap,
                      size_t *out_len);

/* Seal the oldest PONG owed (stamped with its PING's rx time); *out_len = 0 when none is
 * owed. Call after every SC_EVENT_PING and between chunks; at most 8 are queued (the oldest
 * is dropped: the app forgets unanswered pings beyond 8 anyway). Needs SC_SEALED_LEN(21). */
int sc_session_poll(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len);

/* Number of PONGs sc_session_poll would produce now. */
size_t sc_session_pending(const sc_session *s);

/* Seal a PING of our own (ids 1, 2, ...; stamped now); its PONG yields SC_EVENT_PONG.
 * Needs SC_SEALED_LEN(13). */
int sc_session_ping(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len);

/* Start sending one JPEG of `len` bytes (1..2 MiB) as chunks of `chunk_data` bytes (0 means
 * SC_MAX_CHUNK_DATA); at most 64 chunks, so chunk_data * 64 >= len. `jpeg` is not copied: it
 * must stay valid and unchanged until the last chunk is produced. `seq` must exceed every
 * earlier frame's on this connection (gaps allowed). SC_ERR_STATE while another frame is
 * active, SC_ERR_ARG / SC_ERR_TOO_LONG for a bad seq, size or chunk size. */
int sc_session_frame_begin(sc_session *s, const uint8_t *jpeg, size_t len, uint32_t seq,
                           uint64_t capture_us, size_t chunk_data);

/* Seal the next chunk of the active frame into `out` (SC_CHUNK_MESSAGE_LEN(chunk_data)
 * bytes suffice), so only one chunk exists outside the frame buffer at a time. Chunk 0 takes
 * the frame's send_us from the clock. After the last chunk the frame is no longer active.
 * PONGs (sc_session_poll) and STATUS may go between chunks; a frame cannot be abandoned
 * except by closing. SC_ERR_STATE when no frame is active. */
int sc_session_frame_next_chunk(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len);

bool sc_session_frame_active(const sc_session *s);

/* End the session deliberately. In TRANSPORT this seals a CLOSE record (*out_len > 0: send
 * it, then the WebSocket close frame with the same code and reason); otherwise *out_len = 0.
 * The first reason to close wins: after a failure or the app's CLOSE, the code and reason
 * stay those (check sc_session_close_code). The session is CLOSED and its keys wiped after.
 * Needs SC_SEALED_LEN(4 + reason length) bytes. */
int sc_session_close(sc_session *s, uint16_t code, const char *reason, uint8_t *out,
                     size_t out_cap, size_t *out_len);

/* The WebSocket ended under the session: `code` from the app's close frame, or 1006 when there
 * was none. Unless an authenticated CLOSE record already explained the end (6.2), the
 * session records this code; then it is CLOSED and wiped. `reason` may be NULL. */
void sc_session_transport_closed(sc_session *s, uint16_t code, const char *reason);

sc_session_state sc_session_get_state(const sc_session *s);
sc_suite sc_session_suite(const sc_session *s);

/* Why a CLOSED session ended: our close, the app's CLOSE record, a failure found in a
 * message, or the transport; 0 while not closed. The reason is NUL-terminated UTF-8. */
uint16_t sc_session_close_code(const sc_session *s);
const char *sc_session_close_reason(const sc_session *s);

/* The handshake hash (channel binding), valid after SC_EVENT_HANDSHAKE_DONE in NOISE. */
const uint8_t *sc_session_handshake_hash(const sc_session *s);

/* True when the app is overdue: no answer SC_ANSWER_TIMEOUT_US after the start, or nothing
 * received for SC_IDLE_TIMEOUT_US in TRANSPORT. The caller then drops the connection. */
bool sc_session_timed_out(const sc_session *s, uint64_t now_us);

/* Free the AES contexts and zero the whole session; idempotent. */
void sc_session_wipe(sc_session *s);

#ifdef __cplusplus
}
#endif

#endif
