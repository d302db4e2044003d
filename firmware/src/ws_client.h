/* A minimal WebSocket client over NetLink: the I/O half of ws_codec. One connection at a
 * time, polled from the main loop, and nothing in it ever waits: connecting, the upgrade and
 * sending all advance a little on each poll(). One outgoing message at a time, written in
 * pieces as the TCP send buffer takes them; a control frame (close, pong) follows it whole.
 *
 * Why not links2004/WebSockets: its WebSocketsClient neither reports the close code of the
 * app's close frame (WStype_DISCONNECTED carries no payload) nor sends one of ours (it always
 * closes with 1000), it reconnects on its own schedule, and it sends through WiFiClient's
 * blocking write. SecureCam needs the camera to tell 4003/4004 (back off slowly) from 4013 or
 * 1006 (reconnect soon), close with 4006/4007/4008/4011/4015 per docs/PROTOCOL.md 6, run its
 * own jittered back-off, and never stall its loop on a slow link. */
#ifndef SECURECAM_WS_CLIENT_H
#define SECURECAM_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "net_link.h"
#include "securecam/sc_protocol.h"
#include "ws_codec.h"

class WsClient {
public:
    /* Bytes a send buffer must keep free before the payload for the frame header. */
    static const size_t kHeadroom = WS_MAX_CLIENT_HEADER;
    /* The largest message the camera accepts at all (PROTOCOL.md 1); longer: close 1009. */
    static const size_t kMaxMessage = SC_MAX_MESSAGE;
    /* Messages up to this size are kept whole; longer ones arrive truncated (the app never
     * sends the camera more than SC_CAMERA_RX_MAX bytes, so those are malformed anyway). */
    static const size_t kRxCapacity = 512;

    enum class Event : uint8_t { None, Opened, Message, Closed };

    /* Start connecting (name lookup, TCP, then the upgrade request); poll() until Opened or
     * Closed. TCP must connect within timeout_ms (NetLink), the upgrade complete within
     * timeout_ms after that. */
    void connect(const char *host, uint16_t port, const char *path, uint32_t timeout_ms);

    /* Drive the connection: write what the send buffer takes, read what arrived, at most one
     * event per call. Message: message()/message_len() until the next poll. Closed:
     * close_code()/close_reason(); the client is idle again. */
    Event poll(uint64_t now_us);

    bool is_open() const { return state_ == State::Open; }
    bool is_idle() const { return state_ == State::Idle; }

    /* True when a message may be sent now: open, and the previous one fully handed to TCP. */
    bool can_send() const { return state_ == State::Open && out_len_ == 0 && ctrl_len_ == 0; }
    /* Bytes of queued messages not yet handed to TCP. */
    size_t pending() const { return out_len_ + ctrl_len_; }

    uint8_t *message() { return msg_ev_.data; }
    size_t message_len() const { return msg_ev_.len; }
    bool message_text() const { return msg_ev_.text; }
    bool message_truncated() const { return msg_ev_.truncated; }
    uint64_t message_rx_us() const { return rx_us_; } /* when its last bytes were read */

    /* Why the connection ended: the peer's close code (1005: none given), ours when we
     * closed and it never answered, or 1006 when the TCP connection just ended. */
    uint16_t close_code() const { return close_code_; }
    const char *close_reason() const { return close_reason_; }
    bool closed_by_peer() const { return closed_by_peer_; }
    int http_status() const { return http_status_; } /* of a refused upgrade, else 0 */

    /* Queue one binary message of `len` bytes stored at frame + kHeadroom (masked in place;
     * the buffer must stay untouched until can_send() is true again). False unless
     * can_send(). A failure to send later surfaces as Closed. */
    bool send_binary(uint8_t *frame, size_t len);

    /* Start the closing handshake: the close frame follows the message being sent, then up
     * to 2 s for the server's close frame. */
    void close(uint16_t code, const char *reason);

    /* Wait up to 2 s for the server to close (after its CLOSE record), sending nothing. */
    void expect_close();

    /* Drop the TCP connection now; poll() reports Closed with 1006. */
    void abort();

private:
    enum class State : uint8_t { Idle, Connecting, Upgrading, Open, Closing, Ended };

    void queue_control(uint8_t opcode, const uint8_t *payload, size_t len);
    bool flush();
    Event finish(uint16_t code, const char *reason, bool by_peer);
    Event poll_upgrade(uint64_t now_us);
    Event poll_frames(uint64_t now_us);
    Event link_ended(int result);

    NetLink link_;
    State state_ = State::Idle;
    ws_parser parser_{};
    ws_event msg_ev_{};
    uint8_t msg_[kRxCapacity] = {};
    uint8_t rx_[512] = {};
    const uint8_t *rx_src_ = nullptr; /* unparsed bytes: in rx_, or after the HTTP answer */
    size_t rx_off_ = 0;
    size_t rx_len_ = 0;
    uint64_t rx_us_ = 0;
    uint8_t http_[WS_MAX_RESPONSE] = {};
    size_t http_len_ = 0;
    int http_status_ = 0;
    char accept_[WS_ACCEPT_LEN + 1] = {};
    char request_[256] = {};
    const uint8_t *out_ = nullptr; /* the message being written: the caller's buffer */
    size_t out_len_ = 0;
    uint8_t ctrl_[WS_MAX_CLIENT_HEADER + WS_MAX_CONTROL_PAYLOAD] = {}; /* a whole frame */
    size_t ctrl_off_ = 0;
    size_t ctrl_len_ = 0;
    uint64_t deadline_us_ = 0; /* of the upgrade, or of the closing handshake */
    uint64_t timeout_us_ = 0;
    bool close_sent_ = false;
    uint16_t close_code_ = 0;
    char close_reason_[WS_MAX_CLOSE_REASON + 1] = {};
    bool closed_by_peer_ = false;
};

#endif
