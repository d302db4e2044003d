/* The host model of the ESP32-CAM's network I/O and sensor (firmware/host/board): what the
 * real WsClient and StreamClient (firmware/src) run against on the host. The model's
 * parameters, its clock and what it measures live here; board_main.cpp drives it. */
#ifndef SECURECAM_HOST_MODEL_H
#define SECURECAM_HOST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "net_link.h"

/* The link between the camera and the app, as the camera's TCP stack sees it. */
struct LinkParams {
    double rate_bytes_per_s = 2e6 / 8; /* the air's throughput, camera -> app */
    uint64_t rtt_us = 10000;           /* round trip; each direction takes half */
    size_t send_buffer = 5744;         /* lwIP's TCP send buffer (CONFIG_LWIP_TCP_SND_BUF) */
    uint64_t dns_us = 20000;           /* a name lookup's answer time; names ending in
                                          ".invalid" never get one */
    uint64_t dns_timeout_us = NetLink::kResolveTimeoutMs * 1000ull; /* as on the board */
};

/* JPEGs rendered at one frame size and JPEG quality (--frames-by-setting). */
struct FrameSet {
    uint16_t width = 0;
    uint16_t height = 0;
    int quality = 0; /* esp32-camera's scale, 0 (best) .. 63 */
    std::vector<std::vector<uint8_t>> frames;
};

/* The sensor behind esp32-camera: a frame every period into two buffers, newest kept. */
struct SensorParams {
    std::vector<std::vector<uint8_t>> frames; /* --frames: JPEGs served in turn, any setting */
    std::vector<FrameSet> by_setting;         /* --frames-by-setting: chosen by the settings */
    double fps = 15;                          /* OV2640 datasheet: UXGA 15, SVGA 30 */
};

/* The station link behind Arduino's WiFi. */
struct WifiParams {
    uint64_t join_us = 300000; /* WiFi.begin() to WL_CONNECTED: scan, authentication, DHCP */
    bool refuse = false;       /* the network refuses: WL_CONNECT_FAILED instead */
    double scan_slowdown = 1;  /* time per channel / the time asked (associated scans return
                                  to the home channel between channels) */
};

struct ModelStats {
    /* the radio and the camera's start (the staged start, main.cpp) */
    int tx_power = 0;             /* the last WiFi.setTxPower, quarter-dBm */
    uint64_t scan_stops = 0;      /* esp_wifi_scan_stop calls */
    /* one loop() call */
    uint64_t iterations = 0;
    uint64_t worst_cpu_us = 0;     /* thread CPU time: what the loop itself spent */
    uint64_t worst_blocked_us = 0; /* time spent waiting inside the model (delay()) */
    uint64_t worst_wall_us = 0;    /* wall time, preemption by other processes included */
    /* PONGs: from the PING's decryption to the PONG's last byte leaving on the air */
    std::vector<double> pong_wall_ms;
    std::vector<double> pong_link_ms; /* bytes ahead of the PONG / rate: scheduling excluded */
    /* frames (the sensor's own counts: model_sensor_counts) */
    uint64_t frames_started = 0;
    int sensor_quality = 0; /* the JPEG quality the sensor was last set to */
    uint64_t bytes_accepted = 0;    /* handed to TCP by the firmware */
    uint64_t bytes_delivered = 0;   /* given to the app's socket */
    uint64_t writes = 0;
    uint64_t largest_write = 0;
    uint64_t write_full = 0; /* writes refused because the send buffer was full */
    /* ends of connections: the peer's FIN or reset noticed */
    std::vector<uint64_t> end_notice_us;
    std::vector<uint64_t> end_notice_iterations;
    std::vector<uint64_t> end_iteration_start_us; /* the board clock at that loop step's start */
    std::vector<uint64_t> connect_at_us;          /* each NetLink::begin, board clock */
    uint64_t connects = 0;
};

extern LinkParams g_link;
extern WifiParams g_wifi_params;
extern SensorParams g_sensor;
extern ModelStats g_stats;

uint64_t model_now_us();
uint64_t model_iteration_start_us(); /* the board clock when the current loop step began */
/* Called by board_main around each loop() call. */
void model_iteration_begin();
void model_iteration_end();
/* Advance the link (deliveries, acknowledgements, arrivals); cheap, called often. */
void model_link_advance();
/* Commands: the peer stops (true) or resumes reading; a reset from the network. */
void model_link_stall(bool stalled);
void model_link_reset();
void model_wifi_lose();
void model_sensor_stream(bool on);
/* Frames the sensor finished while streaming, and frames dropped for not fitting the buffer
 * (the capture task reads the sensor on its own thread). */
void model_sensor_counts(uint64_t *captured, uint64_t *overflowed);

#endif
