/* The camera's connection to the app: ws://HOST:PORT/camera driving one sc_session at a time
 * (docs/PROTOCOL.md 2.1): hello + Noise message 1, the answer within 5 s, STATUS first, then
 * paced frames sent chunk by chunk with PONGs in between, CONTROL applied live (suite switch
 * included), idle timeout 10 s, the close codes of PROTOCOL.md 6, and reconnection forever
 * with jittered back-off (slowly after an identity rejection).
 *
 * Everything runs on the Arduino loop task, one step per loop() call, so the session is only
 * ever touched by one task and its messages leave in the order they were sealed. No step
 * waits: a message is sealed only when the previous one is fully in TCP's hands, so a slow
 * link delays the next seal instead of blocking the loop. Latest frame wins: a frame starts
 * only when the link has taken the last one whole; the frame slots that passed meanwhile are
 * counted as dropped, and a frame once started is never cut. */
#ifndef SECURECAM_STREAM_H
#define SECURECAM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "camera_board.h"
#include "securecam/sc_config.h"
#include "securecam/sc_protocol.h"
#include "wifi_link.h"
#include "ws_client.h"

/* Build with -DSECURECAM_ALLOW_PLAIN_SWITCH=0 to ignore the app's requests to switch to the
 * unencrypted suite (PROTOCOL.md 4, suite switch). */
#ifndef SECURECAM_ALLOW_PLAIN_SWITCH
#define SECURECAM_ALLOW_PLAIN_SWITCH 1
#endif

class StreamClient {
public:
    /* Chunk size: 64 chunks of 8 KiB cover the largest JPEG buffer (UXGA: 384,000 B), and
     * a PONG waits at most for one chunk to drain (about 8 KiB + lwIP's 5.6 KiB send buffer:
     * 55 ms at 2 Mbit/s). */
    static const size_t kChunkData = 8192;
    static const size_t kTxCapacity = SC_CHUNK_MESSAGE_LEN(kChunkData);

    void begin(CameraBoard *camera, WifiLink *wifi);

    /* Server, device name and key from the configuration. When any of them changes, a live
     * session is closed (1000) and the next one starts at once with the new values. */
    void set_target(const sc_config &cfg);

    /* The stored camera defaults changed (provisioning): apply them like a CONTROL. */
    void set_defaults(uint8_t frame_size, uint8_t quality, uint8_t fps_cap);

    /* One step. True when it did something (the caller may sleep briefly otherwise). */
    bool loop(uint64_t now_us);

    /* End the connection deliberately (reboot: 1001; Wi-Fi change): CLOSE record and close
     * frame when a session is live, then up to 2 s for the app's close frame. */
    void stop(uint16_t code, const char *reason);

    bool streaming() const { return phase_ == Phase::Transport; }

    /* Frames skipped since boot because the link was still busy with an earlier one. */
    uint32_t frames_dropped() const { return frames_dropped_; }

private:
    enum class Phase : uint8_t { Idle, Backoff, Upgrading, Handshake, Transport, Closing };
    struct Settings {
        uint8_t frame_size;
        uint8_t quality;
        uint8_t fps_cap;
    };

    bool ready_to_connect() const;
    void connect(uint64_t now_us);
    void handle(WsClient::Event ev, uint64_t now_us);
    void start_session();
    void on_message();
    void on_closed(uint64_t now_us);
    void schedule_retry(uint16_t code, uint64_t now_us);
    bool transmit(uint64_t now_us);
    bool start_frame(uint64_t now_us);
    bool send_chunk();
    void frame_sent(uint64_t now_us);
    void send_status(uint64_t now_us);
    bool send_pong();
    bool send(size_t len);
    void step_closing(uint64_t now_us);
    void send_close();
    void apply_control(const sc_event &ev);
    void apply_settings();
    void close_session(uint16_t code, const char *reason);
    void fail(uint16_t code, const char *reason);
    void drop_frame();
    uint8_t *payload();

    CameraBoard *camera_ = nullptr;
    WifiLink *wifi_ = nullptr;
    WsClient ws_;
    sc_session session_{};
    bool session_live_ = false;
    Phase phase_ = Phase::Idle;

    char host_[SC_CONFIG_HOST_MAX + 1] = {};
    uint16_t port_ = SC_CONFIG_DEFAULT_PORT;
    char name_[SC_CONFIG_NAME_MAX + 1] = {};
    uint8_t key_[SC_CONFIG_KEY_LEN] = {};
    bool has_key_ = false;
    bool target_ok_ = false;

    backoff backoff_{};
    uint64_t retry_at_us_ = 0;
    bool restart_now_ = false;
    uint8_t session_suite_ = SC_SUITE_NOISE;
    uint8_t pending_switch_ = 0;   /* suite to reconnect in at once, 0: none */
    bool switched_session_ = false; /* this session is a one-off in a switched-to suite */

    Settings wanted_{SC_CONFIG_DEFAULT_FRAME_SIZE, SC_CONFIG_DEFAULT_QUALITY,
                     SC_CONFIG_DEFAULT_FPS_CAP};
    bool apply_pending_ = true;
    bool status_due_ = false;
    bool status_sent_ = false; /* this session's first STATUS went out (PROTOCOL.md 4) */
    uint64_t next_status_us_ = 0;
    uint64_t next_frame_us_ = 0;
    uint32_t seq_ = 0; /* keeps counting across reconnects; reconnect before it wraps */
    camera_fb_t *fb_ = nullptr;
    bool frame_in_flight_ = false; /* a frame started, not yet wholly in TCP's hands */
    uint64_t frame_interval_us_ = 0; /* the pacing grid's step; 0: no cap */
    uint64_t last_capture_us_ = 0;
    uint64_t sensor_period_us_ = 0;  /* the shortest capture interval seen at this size */
    uint16_t sent_width_ = 0; /* of the frames now being sent (STATUS) */
    uint16_t sent_height_ = 0;
    uint32_t frames_refused_ = 0; /* frames the core would not take (logged 1 in 64) */
    uint32_t frames_dropped_ = 0;
    bool close_pending_ = false; /* a CLOSE record waits for the send buffer */
    uint16_t close_code_ = 0;
    char close_reason_[SC_MAX_TEXT + 1] = {};
    uint64_t close_deadline_us_ = 0;
};

#endif
