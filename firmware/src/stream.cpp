/* The camera's session with the app (stream.h). */
#include "stream.h"

#include <Arduino.h>
#include <esp_heap_caps.h>
#include <string.h>

#include "board_compat.h"
#include "board_health.h"
#include "board_log.h"
#include "board_mark.h"
#include "firmware_info.h"

static const char kPath[] = "/camera";
static const uint32_t kConnectTimeoutMs = 5000;   /* TCP + upgrade (PROTOCOL.md 2.1) */
static const uint64_t kStatusIntervalUs = 5000000; /* at least every 5 s (PROTOCOL.md 4) */
/* A deliberate close waits this long for the send buffer to take its CLOSE record. */
static const uint64_t kCloseWaitUs = 2000000;

static_assert(StreamClient::kChunkData * SC_MAX_CHUNKS >= CameraBoard::kMaxJpegBuffer,
              "64 chunks must cover the largest JPEG buffer");
static_assert(StreamClient::kChunkData <= SC_MAX_CHUNK_DATA, "chunk over the protocol limit");

/* The one send buffer: header room, then the sealed message. Every message is sent as soon as
 * it is sealed, so one buffer serves chunks, STATUS, PONGs and CLOSE alike. */
static uint8_t s_tx[WsClient::kHeadroom + StreamClient::kTxCapacity];

static int rng_fill(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    esp_fill_random(buf, len); /* a CSPRNG while the radio is on: sessions need Wi-Fi */
    return 0;
}

static uint64_t clock_now(void *ctx)
{
    (void)ctx;
    return board_now_us();
}

static const char *suite_name(uint8_t suite)
{
    return suite == SC_SUITE_PLAIN ? "plain" : "noise";
}

static void wipe(void *p, size_t n)
{
    volatile uint8_t *b = static_cast<volatile uint8_t *>(p);
    while (n-- > 0) {
        *b++ = 0;
    }
}

uint8_t *StreamClient::payload()
{
    return s_tx + WsClient::kHeadroom;
}

void StreamClient::begin(CameraBoard *camera, WifiLink *wifi)
{
    camera_ = camera;
    wifi_ = wifi;
    backoff_init(&backoff_, BACKOFF_STREAM_FIRST_MS, BACKOFF_STREAM_MAX_MS);
}

/* ---- configuration ------------------------------------------------------------------ */

void StreamClient::set_target(const sc_config &cfg)
{
    bool changed = strcmp(host_, cfg.server_host) != 0 || port_ != cfg.server_port ||
                   strcmp(name_, cfg.device_name) != 0 || has_key_ != cfg.has_key ||
                   (cfg.has_key && memcmp(key_, cfg.key, sizeof key_) != 0);
    target_ok_ = sc_config_is_complete(&cfg);
    if (!changed) {
        return;
    }
    strncpy(host_, cfg.server_host, sizeof host_ - 1);
    host_[sizeof host_ - 1] = '\0';
    port_ = cfg.server_port;
    strncpy(name_, cfg.device_name, sizeof name_ - 1);
    name_[sizeof name_ - 1] = '\0';
    wipe(key_, sizeof key_);
    has_key_ = cfg.has_key;
    if (has_key_) {
        memcpy(key_, cfg.key, sizeof key_);
    }
    backoff_reset(&backoff_);
    pending_switch_ = 0;
    restart_now_ = true;
    if (phase_ == Phase::Transport) {
        close_session(SC_CLOSE_NORMAL, "configuration changed");
    } else if (phase_ == Phase::Upgrading || phase_ == Phase::Handshake) {
        ws_.abort();
    }
    if (target_ok_) {
        char shown[SC_CONFIG_HOST_MAX + 1];
        board_log_text(shown, sizeof shown, host_);
        board_log("stream: target ws://%s:%u%s as \"%s\"", shown, static_cast<unsigned>(port_),
                  kPath, name_);
    } else {
        board_log("stream: not provisioned (needs Wi-Fi, server host, device name and key)");
    }
}

void StreamClient::set_defaults(uint8_t frame_size, uint8_t quality, uint8_t fps_cap)
{
    wanted_.frame_size = frame_size;
    wanted_.quality = quality;
    wanted_.fps_cap = fps_cap;
    apply_pending_ = true;
    status_due_ = true;
}

/* ---- the connection's life cycle --------------------------------------------------- */

bool StreamClient::ready_to_connect() const
{
    return target_ok_ && wifi_->connected() && camera_->ready();
}

bool StreamClient::loop(uint64_t now_us)
{
    if (phase_ == Phase::Idle || phase_ == Phase::Backoff) {
        if (camera_->ready() && apply_pending_) {
            apply_settings(); /* between sessions too, so STATUS #1 reports them */
        }
        if (!ready_to_connect() || (!restart_now_ && now_us < retry_at_us_)) {
            return false;
        }
        connect(now_us);
        return true;
    }
    bool busy = false;
    if (!wifi_->connected()) {
        ws_.abort(); /* its Closed event (1006) ends the session below */
    }
    if (phase_ == Phase::Closing) {
        step_closing(now_us);
    }
    for (int i = 0; i < 4; i++) {
        WsClient::Event ev = ws_.poll(now_us);
        if (ev == WsClient::Event::None) {
            break;
        }
        busy = true;
        handle(ev, now_us);
        if (phase_ == Phase::Idle || phase_ == Phase::Backoff) {
            return true;
        }
    }
    uint64_t now = board_now_us();
    if (phase_ == Phase::Handshake && sc_session_timed_out(&session_, now)) {
        fail(SC_CLOSE_HANDSHAKE_TIMEOUT, "no answer to the hello within 5 s");
        return true;
    }
    if (phase_ == Phase::Transport) {
        if (sc_session_timed_out(&session_, now)) {
            close_session(SC_CLOSE_IDLE_TIMEOUT, "nothing received from the app for 10 s");
            return true;
        }
        busy = transmit(now) || busy;
    }
    return busy;
}

void StreamClient::connect(uint64_t now_us)
{
    restart_now_ = false;
    session_suite_ = pending_switch_ != 0 ? pending_switch_ : static_cast<uint8_t>(SC_SUITE_NOISE);
    switched_session_ = pending_switch_ != 0;
    pending_switch_ = 0;
    char shown[SC_CONFIG_HOST_MAX + 1];
    board_log_text(shown, sizeof shown, host_);
    board_log("stream: connecting to ws://%s:%u%s (%s)", shown, static_cast<unsigned>(port_),
              kPath, suite_name(session_suite_));
    (void)now_us;
    ws_.connect(host_, port_, kPath, kConnectTimeoutMs); /* failures arrive as Closed */
    phase_ = Phase::Upgrading;
}

void StreamClient::handle(WsClient::Event ev, uint64_t now_us)
{
    switch (ev) {
    case WsClient::Event::Opened:
        start_session();
        break;
    case WsClient::Event::Message:
        on_message();
        break;
    case WsClient::Event::Closed:
        on_closed(now_us);
        break;
    case WsClient::Event::None:
        break;
    }
}

void StreamClient::start_session()
{
    sc_rng rng = {&rng_fill, nullptr};
    sc_clock clock = {&clock_now, nullptr};
    int ret = sc_session_init(&session_, name_, has_key_ ? key_ : nullptr,
                              static_cast<sc_suite>(session_suite_), rng, clock);
    if (ret != SC_OK) {
        board_log("stream: session setup failed (%d)", ret);
        ws_.close(SC_CLOSE_INTERNAL_ERROR, "session setup failed");
        phase_ = Phase::Closing;
        return;
    }
    session_live_ = true;
    size_t n = 0;
    ret = sc_session_start(&session_, payload(), kTxCapacity, &n);
    if (ret != SC_OK) {
        board_log("stream: handshake message 1 failed (%d)", ret);
        close_session(SC_CLOSE_INTERNAL_ERROR, "handshake message 1 failed");
        return;
    }
    phase_ = Phase::Handshake;
    if (!send(n)) { /* hello || Noise message 1 as one binary message */
        fail(SC_CLOSE_INTERNAL_ERROR, "hello not sent");
    }
}

void StreamClient::on_message()
{
    if (phase_ != Phase::Handshake && phase_ != Phase::Transport) {
        return;
    }
    bool handshake = phase_ == Phase::Handshake;
    if (ws_.message_text()) {
        if (handshake) {
            fail(SC_CLOSE_SERVER_REJECTED, "text answer to the hello");
        } else {
            close_session(SC_CLOSE_UNSUPPORTED_DATA, "text message");
        }
        return;
    }
    if (ws_.message_truncated()) {
        /* Longer than anything the app may send the camera (SC_CAMERA_RX_MAX). */
        if (handshake) {
            fail(SC_CLOSE_SERVER_REJECTED, "handshake answer is not 48 bytes");
        } else {
            fail(SC_CLOSE_MALFORMED_RECORD, "message longer than any record for the camera");
        }
        return;
    }
    sc_event ev;
    int ret = sc_session_receive(&session_, ws_.message(), ws_.message_len(),
                                 ws_.message_rx_us(), &ev);
    if (ret != SC_OK) {
        if (sc_session_get_state(&session_) == SC_STATE_CLOSED) {
            /* A failure found in the message: no CLOSE record, only the close frame. */
            uint16_t code = sc_session_close_code(&session_);
            char shown[SC_MAX_TEXT + 1];
            board_log_text(shown, sizeof shown, sc_session_close_reason(&session_));
            board_log("stream: closing with %u: %s", static_cast<unsigned>(code), shown);
            drop_frame();
            ws_.close(code, sc_session_close_reason(&session_));
            phase_ = Phase::Closing;
        } else {
            close_session(SC_CLOSE_INTERNAL_ERROR, "receive failed");
        }
        return;
    }
    switch (ev.type) {
    case SC_EVENT_HANDSHAKE_DONE:
        phase_ = Phase::Transport;
        backoff_reset(&backoff_);
        board_log("stream: connected (%s)", suite_name(session_suite_));
        next_frame_us_ = board_now_us();
        status_due_ = true; /* the first record; it confirms the session */
        status_sent_ = false;
        break;
    case SC_EVENT_CONTROL:
        apply_control(ev);
        break;
    case SC_EVENT_CLOSE: {
        char reason[SC_MAX_TEXT_RX + 1];
        board_log_text(reason, sizeof reason, ev.reason);
        board_log("stream: the app closed the session: %u %s",
                  static_cast<unsigned>(ev.close_code), reason);
        drop_frame();
        ws_.expect_close(); /* the app's close frame follows */
        phase_ = Phase::Closing;
        return;
    }
    case SC_EVENT_PING:
        board_mark(BoardMark::PingRead, 0); /* answered before the next chunk (transmit) */
        break;
    case SC_EVENT_PONG:
    case SC_EVENT_NONE:
        break;
    }
}

void StreamClient::on_closed(uint64_t now_us)
{
    uint16_t code = ws_.close_code();
    char reason[SC_MAX_TEXT_RX + 1];
    drop_frame();
    camera_->discard();
    frame_in_flight_ = false;
    close_pending_ = false;
    if (session_live_) {
        if (sc_session_get_state(&session_) != SC_STATE_CLOSED) {
            sc_session_transport_closed(&session_, code, ws_.close_reason());
        }
        /* An authenticated CLOSE record, if one came, outranks the close frame (6.2). */
        code = sc_session_close_code(&session_);
        board_log_text(reason, sizeof reason, sc_session_close_reason(&session_));
        sc_session_wipe(&session_);
        session_live_ = false;
    } else {
        board_log_text(reason, sizeof reason, ws_.close_reason());
    }
    if (ws_.http_status() != 0 && ws_.http_status() != 101) {
        board_log("stream: the server answered HTTP %d (is ws://host:port/camera the app?)",
                  ws_.http_status());
    }
    board_log("stream: connection ended: %u %s", static_cast<unsigned>(code), reason);
    phase_ = Phase::Backoff;
    schedule_retry(code, now_us);
}

void StreamClient::schedule_retry(uint16_t code, uint64_t now_us)
{
    uint32_t wait_ms = 0;
    if (restart_now_) {
        wait_ms = 0; /* new configuration: try it at once */
    } else if (pending_switch_ != 0) {
        board_log("stream: reconnecting at once in the %s suite", suite_name(pending_switch_));
    } else if (sc_close_code_is_rejection(code) && !switched_session_) {
        /* Unauthenticated, so never final (PROTOCOL.md 6.3), but retrying cannot help until
         * the app's registry or this camera's configuration changes. */
        wait_ms = backoff_rejected(&backoff_, esp_random());
        board_log("stream: the app rejected this camera (%u): check its name and key in the "
                  "app; retrying in %lu s",
                  static_cast<unsigned>(code), static_cast<unsigned long>(wait_ms / 1000));
    } else {
        /* A refusal of a switched-to suite says nothing about the configured one. */
        wait_ms = backoff_next(&backoff_, esp_random());
        board_log("stream: reconnecting in %lu ms", static_cast<unsigned long>(wait_ms));
    }
    switched_session_ = false;
    retry_at_us_ = now_us + static_cast<uint64_t>(wait_ms) * 1000u;
}

/* ---- sending ------------------------------------------------------------------------ */

/* Seal-and-send happens only when the previous message is wholly in TCP's hands (every
 * caller checks ws_.can_send()), so s_tx is free and messages leave in nonce order. */
bool StreamClient::send(size_t len)
{
    return ws_.send_binary(s_tx, len); /* a failure surfaces as Closed on the next poll */
}

bool StreamClient::send_pong()
{
    size_t n = 0;
    if (sc_session_poll(&session_, payload(), kTxCapacity, &n) != SC_OK || n == 0 || !send(n)) {
        return false;
    }
    board_mark(BoardMark::PongQueued, static_cast<uint32_t>(ws_.pending()));
    return true;
}

void StreamClient::send_status(uint64_t now_us)
{
    uint8_t frame_size = camera_->ready() ? camera_->frame_size() : wanted_.frame_size;
    const FrameSizeInfo *info = CameraBoard::lookup(frame_size);
    sc_status st;
    memset(&st, 0, sizeof st);
    st.rssi_dbm = wifi_->rssi();
    st.frame_size = frame_size;
    st.quality = camera_->ready() ? camera_->quality() : wanted_.quality;
    st.fps_cap = wanted_.fps_cap;
    st.width = sent_width_ != 0 ? sent_width_ : (info != nullptr ? info->width : 0);
    st.height = sent_height_ != 0 ? sent_height_ : (info != nullptr ? info->height : 0);
    st.free_heap = static_cast<uint32_t>(heap_caps_get_free_size(MALLOC_CAP_INTERNAL));
    st.free_psram = static_cast<uint32_t>(heap_caps_get_free_size(MALLOC_CAP_SPIRAM));
    st.uptime_s = static_cast<uint32_t>(now_us / 1000000u);
    st.firmware = SECURECAM_FIRMWARE_ID;
    st.firmware_len = sizeof SECURECAM_FIRMWARE_ID - 1;
    st.has_frames_dropped = true;
    st.frames_dropped = frames_dropped_;
    st.has_stack_min_free = board_stack_min_free(&st.stack_min_free);
    size_t n = 0;
    int ret = sc_session_status(&session_, &st, payload(), kTxCapacity, &n);
    if (ret != SC_OK) {
        close_session(SC_CLOSE_INTERNAL_ERROR, "STATUS failed");
        return;
    }
    status_due_ = false;
    status_sent_ = true;
    next_status_us_ = now_us + kStatusIntervalUs;
    (void)send(n);
}

/* One message per call, in this order: the session's first STATUS, a PONG owed, the next
 * chunk of the frame being sent, then between frames settings, STATUS and a new frame. */
bool StreamClient::transmit(uint64_t now_us)
{
    if (!ws_.can_send()) {
        return false; /* the send buffer is full: poll() hands it more as it drains */
    }
    if (frame_in_flight_ && fb_ == nullptr) {
        frame_sent(now_us); /* its last chunk just went wholly into TCP's hands */
    }
    if (!status_sent_) {
        send_status(now_us);
        return true;
    }
    if (sc_session_pending(&session_) > 0) {
        return send_pong(); /* a PING is answered before the next chunk */
    }
    if (fb_ != nullptr) {
        return send_chunk();
    }
    if (apply_pending_) {
        apply_settings();
        status_due_ = true;
    }
    if (pending_switch_ != 0) {
        close_session(SC_CLOSE_NORMAL, pending_switch_ == SC_SUITE_PLAIN ? "switching to plain"
                                                                         : "switching to noise");
        return true;
    }
    if (status_due_ || now_us >= next_status_us_) {
        send_status(now_us);
        return true;
    }
    if (seq_ == UINT32_MAX) {
        /* A connection's seq must keep increasing (PROTOCOL.md 5): start over on a new one. */
        seq_ = 0;
        close_session(SC_CLOSE_NORMAL, "frame counter exhausted");
        return true;
    }
    if (now_us >= next_frame_us_) {
        return start_frame(now_us);
    }
    return false;
}

bool StreamClient::start_frame(uint64_t now_us)
{
    camera_fb_t *fb = camera_->grab(); /* the newest frame, or none yet: never waits */
    if (fb == nullptr) {
        return false;
    }
    uint64_t now = board_now_us();
    uint64_t capture = CameraBoard::capture_us(fb, now);
    if (last_capture_us_ != 0 && capture > last_capture_us_ &&
        (sensor_period_us_ == 0 || capture - last_capture_us_ < sensor_period_us_)) {
        sensor_period_us_ = capture - last_capture_us_;
    }
    last_capture_us_ = capture;
    if (fb->width != sent_width_ || fb->height != sent_height_) {
        /* STATUS reports the size of the frames now being sent: it goes first. This frame goes
         * back; the next, taken right after, gives the sensor's period at the new size, by
         * which frame_sent() counts the frames dropped when there is no cap to go by. */
        sent_width_ = static_cast<uint16_t>(fb->width);
        sent_height_ = static_cast<uint16_t>(fb->height);
        sensor_period_us_ = 0; /* another size, another rate */
        camera_->release(fb);
        status_due_ = true;
        return true;
    }
    int ret = sc_session_frame_begin(&session_, fb->buf, fb->len, seq_ + 1, capture, kChunkData);
    if (ret != SC_OK) {
        camera_->release(fb);
        if ((frames_refused_++ & 63u) == 0) {
            board_log("stream: frame of %u bytes not sent (%d)",
                      static_cast<unsigned>(fb->len), ret);
        }
        return true;
    }
    seq_++;
    fb_ = fb;
    frame_in_flight_ = true;
    board_mark(BoardMark::FrameStarted, seq_);
    /* Pace to the frame-rate cap on a fixed grid; more than one interval late (sending is
     * slower than the cap), restart the grid instead of sending a burst to catch up. */
    uint8_t cap = wanted_.fps_cap;
    frame_interval_us_ = cap == 0 || cap >= SC_NO_FPS_CAP ? 0 : 1000000u / cap;
    next_frame_us_ = now_us - next_frame_us_ < frame_interval_us_
                         ? next_frame_us_ + frame_interval_us_
                         : now_us + frame_interval_us_;
    return send_chunk();
}

/* The frame is wholly in TCP's hands: count the frame slots that passed while it was being
 * sent (by the cap's grid, or without a cap by the sensor's rate) as dropped. */
void StreamClient::frame_sent(uint64_t now_us)
{
    frame_in_flight_ = false;
    uint64_t slot = frame_interval_us_ > sensor_period_us_ ? frame_interval_us_
                                                            : sensor_period_us_;
    if (slot == 0 || now_us <= next_frame_us_) {
        return;
    }
    uint64_t missed = (now_us - next_frame_us_) / slot;
    frames_dropped_ += static_cast<uint32_t>(missed);
}

bool StreamClient::send_chunk()
{
    size_t n = 0;
    int ret = sc_session_frame_next_chunk(&session_, payload(), kTxCapacity, &n);
    if (ret != SC_OK) {
        drop_frame();
        close_session(SC_CLOSE_INTERNAL_ERROR, "sealing a chunk failed");
        return true;
    }
    if (!sc_session_frame_active(&session_)) {
        /* The last chunk is sealed (copied out of the frame buffer): hand the buffer back
         * before the network send so the driver can fill it again meanwhile. */
        camera_->release(fb_);
        fb_ = nullptr;
    }
    (void)send(n);
    return true;
}

void StreamClient::drop_frame()
{
    if (fb_ != nullptr) {
        camera_->release(fb_);
        fb_ = nullptr;
    }
}

/* ---- CONTROL ------------------------------------------------------------------------ */

void StreamClient::apply_control(const sc_event &ev)
{
    const sc_control &c = ev.control;
    if (c.frame_size != SC_UNCHANGED) {
        if (CameraBoard::lookup(c.frame_size) != nullptr) {
            wanted_.frame_size = c.frame_size;
        } else {
            board_log("control: ignoring unknown frame size %u", static_cast<unsigned>(c.frame_size));
        }
    }
    if (c.quality != SC_UNCHANGED) {
        if (sc_config_valid_jpeg_quality(c.quality)) {
            wanted_.quality = c.quality;
        } else {
            board_log("control: ignoring JPEG quality %u", static_cast<unsigned>(c.quality));
        }
    }
    if (c.fps_cap != SC_UNCHANGED) {
        wanted_.fps_cap = c.fps_cap; /* 1..254, or 255: no cap */
    }
    /* Applied between frames, then reported: "a STATUS with the settings in force". */
    apply_pending_ = true;
    status_due_ = true;
    if (ev.switch_suite != 0) {
        if (ev.switch_suite == SC_SUITE_PLAIN && !SECURECAM_ALLOW_PLAIN_SWITCH) {
            board_log("control: this build does not switch to the plain suite");
        } else {
            pending_switch_ = ev.switch_suite;
        }
    } else if (c.suite != SC_UNCHANGED && c.suite != session_suite_) {
        board_log("control: ignoring suite %u", static_cast<unsigned>(c.suite));
    }
}

void StreamClient::apply_settings()
{
    apply_pending_ = false;
    if (!camera_->set_frame_size(wanted_.frame_size) && camera_->ready()) {
        wanted_.frame_size = camera_->frame_size();
    }
    (void)camera_->set_quality(wanted_.quality);
    if (camera_->ready()) {
        wanted_.frame_size = camera_->frame_size(); /* what the board could do (no PSRAM) */
    }
    /* wanted_.quality stays what was asked: the camera raises it to the buffer's floor at
     * large sizes, and returns to it at smaller ones; STATUS reports the quality in force. */
}

/* ---- ending ------------------------------------------------------------------------- */

/* A deliberate end: a CLOSE record when the session has keys and is healthy, then the close
 * frame with the same code and reason (PROTOCOL.md 6.2). The record needs the send buffer:
 * it waits (up to 2 s) behind the message being sent. */
void StreamClient::close_session(uint16_t code, const char *reason)
{
    drop_frame();
    frame_in_flight_ = false;
    phase_ = Phase::Closing;
    close_pending_ = true;
    close_code_ = code;
    strncpy(close_reason_, reason, sizeof close_reason_ - 1);
    close_reason_[sizeof close_reason_ - 1] = '\0';
    close_deadline_us_ = board_now_us() + kCloseWaitUs;
    step_closing(board_now_us());
}

void StreamClient::step_closing(uint64_t now_us)
{
    if (!close_pending_) {
        return;
    }
    if (!ws_.is_open()) {
        close_pending_ = false; /* the connection is gone already: Closed follows */
        return;
    }
    if (!ws_.can_send()) {
        if (now_us >= close_deadline_us_) {
            close_pending_ = false;
            board_log("stream: the link took nothing for 2 s; dropping the connection");
            ws_.abort();
        }
        return;
    }
    close_pending_ = false;
    send_close();
}

void StreamClient::send_close()
{
    uint16_t code = close_code_;
    const char *reason = close_reason_;
    if (session_live_) {
        size_t n = 0;
        if (sc_session_close(&session_, code, reason, payload(), kTxCapacity, &n) == SC_OK &&
            n > 0) {
            (void)send(n);
        } else if (sc_session_get_state(&session_) != SC_STATE_CLOSED) {
            sc_session_transport_closed(&session_, code, reason); /* sealing failed: no record */
        }
        code = sc_session_close_code(&session_);
        reason = sc_session_close_reason(&session_);
    }
    char shown[SC_MAX_TEXT + 1];
    board_log_text(shown, sizeof shown, reason);
    board_log("stream: closing with %u: %s", static_cast<unsigned>(code), shown);
    ws_.close(code, reason);
}

/* A failure the camera found itself, outside Noise: the session ends with `code`, and only
 * the close frame says so (no record: 4006, 4008, 4015). */
void StreamClient::fail(uint16_t code, const char *reason)
{
    drop_frame();
    frame_in_flight_ = false;
    if (session_live_ && sc_session_get_state(&session_) != SC_STATE_CLOSED) {
        sc_session_transport_closed(&session_, code, reason);
    }
    board_log("stream: closing with %u: %s", static_cast<unsigned>(code), reason);
    ws_.close(code, reason);
    phase_ = Phase::Closing;
}

void StreamClient::stop(uint16_t code, const char *reason)
{
    if (phase_ == Phase::Transport) {
        close_session(code, reason);
    } else if (phase_ == Phase::Upgrading || phase_ == Phase::Handshake) {
        ws_.abort();
    }
    uint64_t until = board_now_us() + 2000000u;
    while ((phase_ == Phase::Closing || phase_ == Phase::Upgrading ||
            phase_ == Phase::Handshake) &&
           !ws_.is_idle()) {
        uint64_t now = board_now_us();
        if (now >= until) {
            ws_.abort(); /* bounded: the next poll reports Closed */
        }
        step_closing(now);
        WsClient::Event ev = ws_.poll(now);
        if (ev == WsClient::Event::Closed) {
            on_closed(now);
        } else if (ev == WsClient::Event::None) {
            delay(5);
        }
    }
}
