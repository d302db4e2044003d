/* WebSocket client over WiFiClient (ws_client.h). */
#include "ws_client.h"

#include <string.h>

#include "board_compat.h"

static const uint64_t kCloseWaitUs = 2000000; /* the closing handshake, as the app's 2 s */
static const int kEventsPerPoll = 8;          /* keep the main loop moving */

static void copy_reason(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
    }
    if (len > 0) {
        memcpy(dst, src, len);
    }
    dst[len] = '\0';
}

bool WsClient::connect(const char *host, uint16_t port, const char *path, uint32_t timeout_ms)
{
    if (state_ != State::Idle) {
        tcp_.stop();
        state_ = State::Idle;
    }
    http_len_ = 0;
    http_status_ = 0;
    rx_src_ = rx_;
    rx_off_ = 0;
    rx_len_ = 0;
    close_sent_ = false;
    close_code_ = 0;
    close_reason_[0] = '\0';
    closed_by_peer_ = false;
    memset(&msg_ev_, 0, sizeof msg_ev_);

    uint8_t nonce[WS_NONCE_LEN];
    char key[WS_KEY_LEN + 1];
    esp_fill_random(nonce, sizeof nonce);
    if (ws_key_encode(nonce, key) != 0 || ws_accept_for_key(key, accept_) != 0) {
        return false;
    }
    uint64_t start = board_now_us();
    if (!tcp_.connect(host, port, static_cast<int32_t>(timeout_ms))) {
        tcp_.stop();
        return false;
    }
    tcp_.setNoDelay(true); /* every message is sent whole: no Nagle delay on small records */
    char request[256];
    size_t n = ws_request_build(host, port, path, key, request, sizeof request);
    if (n == 0 || !write_all(reinterpret_cast<const uint8_t *>(request), n)) {
        tcp_.stop();
        return false;
    }
    ws_parser_init(&parser_, msg_, sizeof msg_, kMaxMessage);
    state_ = State::Upgrading;
    deadline_us_ = start + static_cast<uint64_t>(timeout_ms) * 1000u;
    return true;
}

bool WsClient::write_all(const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t n = tcp_.write(data, len);
        if (n == 0) {
            return false;
        }
        data += n;
        len -= n;
    }
    return true;
}

bool WsClient::send_frame(uint8_t opcode, uint8_t *frame, size_t len)
{
    if (state_ != State::Open && state_ != State::Closing) {
        return false;
    }
    uint8_t mask[4];
    esp_fill_random(mask, sizeof mask);
    uint8_t header[WS_MAX_CLIENT_HEADER];
    size_t h = ws_frame_header(opcode, len, mask, header);
    uint8_t *payload = frame + kHeadroom;
    ws_mask(payload, len, mask);
    /* Header and payload as one write: one TCP segment train, no small first segment. */
    memcpy(payload - h, header, h);
    if (!write_all(payload - h, h + len)) {
        tcp_.stop();
        state_ = State::Ended;
        close_code_ = SC_CLOSE_ABNORMAL;
        copy_reason(close_reason_, sizeof close_reason_,
                    reinterpret_cast<const uint8_t *>("send failed"), 11);
        return false;
    }
    return true;
}

bool WsClient::send_binary(uint8_t *frame, size_t len)
{
    return state_ == State::Open && send_frame(WS_OP_BINARY, frame, len);
}

void WsClient::close(uint16_t code, const char *reason)
{
    if (state_ != State::Open) {
        return;
    }
    uint8_t frame[kHeadroom + WS_MAX_CONTROL_PAYLOAD];
    size_t rlen = reason != nullptr ? strlen(reason) : 0;
    size_t n = ws_close_payload(code, reason, rlen, frame + kHeadroom);
    close_code_ = code;
    copy_reason(close_reason_, sizeof close_reason_, frame + kHeadroom + 2, n - 2);
    if (!send_frame(WS_OP_CLOSE, frame, n)) {
        close_code_ = code; /* ours explains the end even though it never left */
        return;             /* Ended: poll() reports Closed */
    }
    close_sent_ = true;
    state_ = State::Closing;
    deadline_us_ = board_now_us() + kCloseWaitUs;
}

void WsClient::expect_close()
{
    if (state_ != State::Open) {
        return;
    }
    state_ = State::Closing;
    close_sent_ = false;
    deadline_us_ = board_now_us() + kCloseWaitUs;
}

void WsClient::abort()
{
    if (state_ == State::Idle || state_ == State::Ended) {
        return;
    }
    tcp_.stop();
    state_ = State::Ended;
    close_code_ = SC_CLOSE_ABNORMAL;
    copy_reason(close_reason_, sizeof close_reason_,
                reinterpret_cast<const uint8_t *>("connection dropped"), 18);
}

WsClient::Event WsClient::finish(uint16_t code, const char *reason, bool by_peer)
{
    tcp_.stop();
    state_ = State::Idle;
    close_code_ = code;
    closed_by_peer_ = by_peer;
    if (reason != close_reason_) {
        copy_reason(close_reason_, sizeof close_reason_,
                    reinterpret_cast<const uint8_t *>(reason), strlen(reason));
    }
    return Event::Closed;
}

WsClient::Event WsClient::poll(uint64_t now_us)
{
    switch (state_) {
    case State::Idle:
        return Event::None;
    case State::Ended:
        state_ = State::Idle;
        closed_by_peer_ = false;
        return Event::Closed;
    case State::Upgrading:
        return poll_upgrade(now_us);
    case State::Open:
    case State::Closing:
        return poll_frames(now_us);
    }
    return Event::None;
}

WsClient::Event WsClient::poll_upgrade(uint64_t now_us)
{
    int avail = tcp_.available();
    if (avail > 0 && http_len_ < sizeof http_) {
        size_t room = sizeof http_ - http_len_;
        int n = tcp_.read(http_ + http_len_, static_cast<size_t>(avail) < room
                                                 ? static_cast<size_t>(avail)
                                                 : room);
        if (n > 0) {
            http_len_ += static_cast<size_t>(n);
        }
    }
    size_t header_len = 0;
    ws_response r = ws_response_check(http_, http_len_, accept_, &header_len, &http_status_);
    switch (r) {
    case WS_RESPONSE_OK:
        state_ = State::Open;
        rx_src_ = http_; /* anything after the blank line is already WebSocket frames */
        rx_off_ = header_len;
        rx_len_ = http_len_;
        rx_us_ = board_now_us();
        return Event::Opened;
    case WS_RESPONSE_INCOMPLETE:
        break;
    case WS_RESPONSE_BAD_STATUS:
        return finish(SC_CLOSE_ABNORMAL, "upgrade refused (HTTP status)", false);
    case WS_RESPONSE_BAD_HEADERS:
        return finish(SC_CLOSE_ABNORMAL, "upgrade answer invalid", false);
    case WS_RESPONSE_TOO_LONG:
        return finish(SC_CLOSE_ABNORMAL, "upgrade answer too long", false);
    }
    if (avail <= 0 && !tcp_.connected()) {
        return finish(SC_CLOSE_ABNORMAL, "connection closed during the upgrade", false);
    }
    if (now_us >= deadline_us_) {
        return finish(SC_CLOSE_ABNORMAL, "upgrade timed out", false);
    }
    return Event::None;
}

WsClient::Event WsClient::poll_frames(uint64_t now_us)
{
    for (int i = 0; i < kEventsPerPoll; i++) {
        if (rx_off_ >= rx_len_) {
            int avail = tcp_.available();
            if (avail > 0) {
                int n = tcp_.read(rx_, static_cast<size_t>(avail) < sizeof rx_
                                           ? static_cast<size_t>(avail)
                                           : sizeof rx_);
                if (n > 0) {
                    rx_src_ = rx_;
                    rx_off_ = 0;
                    rx_len_ = static_cast<size_t>(n);
                    rx_us_ = board_now_us(); /* the arrival stamp of what these bytes end */
                }
            }
            if (rx_off_ >= rx_len_) {
                if (!tcp_.connected()) {
                    /* Ended without a close frame: 1006, or ours if we had started closing. */
                    return state_ == State::Closing && close_sent_
                               ? finish(close_code_, close_reason_, false)
                               : finish(SC_CLOSE_ABNORMAL, "connection lost", false);
                }
                if (state_ == State::Closing && now_us >= deadline_us_) {
                    return close_sent_ ? finish(close_code_, close_reason_, false)
                                       : finish(SC_CLOSE_ABNORMAL, "no close frame", false);
                }
                return Event::None;
            }
        }
        ws_event ev;
        size_t used = 0;
        ws_event_type t =
            ws_parser_feed(&parser_, rx_src_ + rx_off_, rx_len_ - rx_off_, &used, &ev);
        rx_off_ += used;
        switch (t) {
        case WS_EV_NONE:
        case WS_EV_PONG:
            break;
        case WS_EV_MESSAGE:
            if (state_ == State::Open) {
                msg_ev_ = ev;
                return Event::Message;
            }
            break; /* closing: nothing more is processed */
        case WS_EV_PING: {
            uint8_t frame[kHeadroom + WS_MAX_CONTROL_PAYLOAD];
            memcpy(frame + kHeadroom, ev.data, ev.len);
            if (!send_frame(WS_OP_PONG, frame, ev.len)) {
                return poll(now_us);
            }
            break;
        }
        case WS_EV_CLOSE: {
            char reason[WS_MAX_CLOSE_REASON + 1];
            copy_reason(reason, sizeof reason, ev.data, ev.len);
            if (close_sent_) {
                /* The answer to our close: the end is explained by our code. */
                return finish(close_code_, close_reason_, false);
            }
            /* Echo the code (none when the peer gave none), as RFC 6455 5.5.1 asks. */
            uint8_t frame[kHeadroom + WS_MAX_CONTROL_PAYLOAD];
            size_t n = 0;
            if (ev.code != WS_CLOSE_NO_STATUS) {
                n = ws_close_payload(ev.code, nullptr, 0, frame + kHeadroom);
            }
            (void)send_frame(WS_OP_CLOSE, frame, n);
            return finish(ev.code, reason, true);
        }
        case WS_EV_ERROR: {
            uint8_t frame[kHeadroom + WS_MAX_CONTROL_PAYLOAD];
            const char *why = ev.code == WS_CLOSE_TOO_BIG ? "message too big" : "protocol error";
            size_t n = ws_close_payload(ev.code, why, strlen(why), frame + kHeadroom);
            if (!close_sent_) {
                (void)send_frame(WS_OP_CLOSE, frame, n);
            }
            return finish(ev.code, why, false);
        }
        }
    }
    return Event::None;
}
