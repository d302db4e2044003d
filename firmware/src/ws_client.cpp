/* WebSocket client over NetLink (ws_client.h). */
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

static void copy_reason(char *dst, size_t cap, const char *src)
{
    copy_reason(dst, cap, reinterpret_cast<const uint8_t *>(src), strlen(src));
}

void WsClient::connect(const char *host, uint16_t port, const char *path, uint32_t timeout_ms)
{
    if (state_ != State::Idle) {
        link_.abort();
    }
    http_len_ = 0;
    http_status_ = 0;
    rx_src_ = rx_;
    rx_off_ = 0;
    rx_len_ = 0;
    out_ = nullptr;
    out_len_ = 0;
    ctrl_off_ = 0;
    ctrl_len_ = 0;
    close_sent_ = false;
    close_code_ = 0;
    close_reason_[0] = '\0';
    closed_by_peer_ = false;
    memset(&msg_ev_, 0, sizeof msg_ev_);
    state_ = State::Ended; /* until the request is ready: a failure below is reported */
    close_code_ = SC_CLOSE_ABNORMAL;

    uint8_t nonce[WS_NONCE_LEN];
    char key[WS_KEY_LEN + 1];
    esp_fill_random(nonce, sizeof nonce);
    size_t n = 0;
    if (ws_key_encode(nonce, key) != 0 || ws_accept_for_key(key, accept_) != 0 ||
        (n = ws_request_build(host, port, path, key, request_, sizeof request_)) == 0) {
        copy_reason(close_reason_, sizeof close_reason_, "upgrade request failed");
        return;
    }
    out_len_ = n; /* written once TCP is up */
    ws_parser_init(&parser_, msg_, sizeof msg_, kMaxMessage);
    link_.begin(host, port, timeout_ms); /* bounds the name lookup and TCP connect itself */
    state_ = State::Connecting;
    timeout_us_ = static_cast<uint64_t>(timeout_ms) * 1000u;
}

void WsClient::queue_control(uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t mask[4];
    esp_fill_random(mask, sizeof mask);
    size_t h = ws_frame_header(opcode, len, mask, ctrl_);
    memcpy(ctrl_ + h, payload, len);
    ws_mask(ctrl_ + h, len, mask);
    ctrl_off_ = 0;
    ctrl_len_ = h + len;
}

/* Hand TCP what it takes now: the message first, then the control frame behind it. False
 * when the connection failed. */
bool WsClient::flush()
{
    for (;;) {
        bool message = out_len_ > 0;
        const uint8_t *p = message ? out_ : ctrl_ + ctrl_off_;
        size_t n = message ? out_len_ : ctrl_len_;
        if (n == 0) {
            return true;
        }
        int written = link_.write_some(p, n);
        if (written <= 0) {
            return written == 0;
        }
        size_t w = static_cast<size_t>(written);
        if (message) {
            out_ += w;
            out_len_ -= w;
        } else {
            ctrl_off_ += w;
            ctrl_len_ -= w;
        }
    }
}

bool WsClient::send_binary(uint8_t *frame, size_t len)
{
    if (!can_send()) {
        return false;
    }
    uint8_t mask[4];
    esp_fill_random(mask, sizeof mask);
    uint8_t header[WS_MAX_CLIENT_HEADER];
    size_t h = ws_frame_header(WS_OP_BINARY, len, mask, header);
    uint8_t *payload = frame + kHeadroom;
    ws_mask(payload, len, mask);
    /* Header and payload as one run of bytes: no small first segment. */
    memcpy(payload - h, header, h);
    out_ = payload - h;
    out_len_ = h + len;
    (void)flush(); /* a failure is seen by the next poll() */
    return true;
}

void WsClient::close(uint16_t code, const char *reason)
{
    if (state_ != State::Open) {
        return;
    }
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t rlen = reason != nullptr ? strlen(reason) : 0;
    size_t n = ws_close_payload(code, reason, rlen, payload);
    close_code_ = code;
    copy_reason(close_reason_, sizeof close_reason_, payload + 2, n - 2);
    if (ctrl_len_ > 0 && ctrl_off_ > 0) {
        /* A control frame is half written: the close frame cannot follow it whole. */
        abort();
        return;
    }
    queue_control(WS_OP_CLOSE, payload, n);
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
    link_.abort();
    state_ = State::Ended;
    if (!close_sent_) {
        close_code_ = SC_CLOSE_ABNORMAL;
        copy_reason(close_reason_, sizeof close_reason_, "connection dropped");
    }
}

WsClient::Event WsClient::finish(uint16_t code, const char *reason, bool by_peer)
{
    link_.close(); /* FIN after whatever is queued (a close frame); a dead link just ends */
    state_ = State::Idle;
    out_len_ = 0;
    ctrl_len_ = 0;
    close_code_ = code;
    closed_by_peer_ = by_peer;
    if (reason != close_reason_) {
        copy_reason(close_reason_, sizeof close_reason_, reason);
    }
    return Event::Closed;
}

/* The TCP connection ended (NetLink::kEnd: the peer's FIN) or failed (-1). */
WsClient::Event WsClient::link_ended(int result)
{
    if (state_ == State::Closing && close_sent_) {
        return finish(close_code_, close_reason_, false); /* ours explains the end */
    }
    if (result == NetLink::kEnd) {
        return finish(SC_CLOSE_ABNORMAL, state_ == State::Upgrading
                                             ? "connection closed during the upgrade"
                                             : "the app closed the connection",
                      false);
    }
    return finish(SC_CLOSE_ABNORMAL, link_.why(), false);
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
    case State::Connecting: {
        NetLink::State link = link_.poll(now_us);
        if (link == NetLink::State::Failed) {
            return finish(SC_CLOSE_ABNORMAL, link_.why(), false);
        }
        if (link == NetLink::State::Open) {
            out_ = reinterpret_cast<const uint8_t *>(request_);
            state_ = State::Upgrading;
            deadline_us_ = now_us + timeout_us_; /* the upgrade's own time */
            return poll_upgrade(now_us);
        }
        return Event::None;
    }
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
    if (!flush()) {
        return link_ended(-1);
    }
    if (http_len_ < sizeof http_) {
        int n = link_.read_some(http_ + http_len_, sizeof http_ - http_len_);
        if (n > 0) {
            http_len_ += static_cast<size_t>(n);
        } else if (n < 0) {
            return link_ended(n); /* no complete answer will come */
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
    if (now_us >= deadline_us_) {
        link_.abort();
        return finish(SC_CLOSE_ABNORMAL, "upgrade timed out", false);
    }
    return Event::None;
}

WsClient::Event WsClient::poll_frames(uint64_t now_us)
{
    if (!flush()) {
        return link_ended(-1);
    }
    if (state_ == State::Closing && now_us >= deadline_us_) {
        link_.abort(); /* a peer that keeps sending does not hold the close open */
        return close_sent_ ? finish(close_code_, close_reason_, false)
                           : finish(SC_CLOSE_ABNORMAL, "no close frame", false);
    }
    for (int i = 0; i < kEventsPerPoll; i++) {
        if (rx_off_ >= rx_len_) {
            int n = link_.read_some(rx_, sizeof rx_);
            if (n < 0) {
                return link_ended(n);
            }
            if (n == 0) {
                return Event::None;
            }
            rx_src_ = rx_;
            rx_off_ = 0;
            rx_len_ = static_cast<size_t>(n);
            rx_us_ = board_now_us(); /* the arrival stamp of what these bytes end */
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
        case WS_EV_PING:
            if (ctrl_len_ == 0 && state_ == State::Open) {
                queue_control(WS_OP_PONG, ev.data, ev.len); /* one owed at a time is enough */
                if (!flush()) {
                    return link_ended(-1);
                }
            }
            break;
        case WS_EV_CLOSE: {
            char reason[WS_MAX_CLOSE_REASON + 1];
            copy_reason(reason, sizeof reason, ev.data, ev.len);
            if (close_sent_) {
                /* The answer to our close: the end is explained by our code. */
                return finish(close_code_, close_reason_, false);
            }
            /* Echo the code (none when the peer gave none), as RFC 6455 5.5.1 asks: best
             * effort, behind the message being sent, with what the send buffer takes now. */
            uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
            size_t n = 0;
            if (ev.code != WS_CLOSE_NO_STATUS) {
                n = ws_close_payload(ev.code, nullptr, 0, payload);
            }
            if (ctrl_len_ == 0 || ctrl_off_ == 0) {
                queue_control(WS_OP_CLOSE, payload, n);
                (void)flush();
            }
            return finish(ev.code, reason, true);
        }
        case WS_EV_ERROR: {
            const char *why = ev.code == WS_CLOSE_TOO_BIG ? "message too big" : "protocol error";
            if (!close_sent_ && (ctrl_len_ == 0 || ctrl_off_ == 0)) {
                uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
                size_t n = ws_close_payload(ev.code, why, strlen(why), payload);
                queue_control(WS_OP_CLOSE, payload, n);
                (void)flush();
            }
            return finish(ev.code, why, false);
        }
        }
    }
    return Event::None;
}
