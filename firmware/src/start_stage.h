/* The staged start (main.cpp): on a weak 5 V supply the camera's power-up (sensor, XCLK, DMA)
 * on top of the radio's association bursts is the classic ESP32-CAM brownout reset, and
 * WiFi.begin() returns at once, so "Wi-Fi first" alone does not keep them apart. The camera
 * starts only while no association is under way: once the link has been up for kSettleUs,
 * or between two attempts, or at once when no network is configured. */
#ifndef SECURECAM_START_STAGE_H
#define SECURECAM_START_STAGE_H

#include <stdint.h>

#include "wifi_link.h"

class StartStage {
public:
    /* After association (and DHCP): the link's bursts have passed. */
    static const uint64_t kSettleUs = 500000;

    /* True when the camera may start (or retry) now; call on every loop step. */
    bool camera_may_start(const WifiLink &wifi, uint64_t now_us);

private:
    uint64_t quiet_since_us_ = 0; /* 0: the radio is associating */
};

#endif
