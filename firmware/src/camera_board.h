/* The AI-Thinker ESP32-CAM's OV2640 through esp32-camera: pins, PSRAM-dependent buffers,
 * SecureCam FrameSize codes (docs/PROTOCOL.md 4, app/protocol/framesize.py) mapped to
 * esp32-camera's framesize_t by name, and live frame size / JPEG quality changes. */
#ifndef SECURECAM_CAMERA_BOARD_H
#define SECURECAM_CAMERA_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "esp_camera.h"
#include "securecam/sc_config.h"

/* AI-Thinker ESP32-CAM (the same map as esp32-camera's and Arduino's CameraWebServer). */
#define CAM_PIN_PWDN 32
#define CAM_PIN_RESET -1 /* not wired: software reset */
#define CAM_PIN_XCLK 0
#define CAM_PIN_SIOD 26
#define CAM_PIN_SIOC 27
#define CAM_PIN_D7 35 /* Y9 */
#define CAM_PIN_D6 34 /* Y8 */
#define CAM_PIN_D5 39 /* Y7 */
#define CAM_PIN_D4 36 /* Y6 */
#define CAM_PIN_D3 21 /* Y5 */
#define CAM_PIN_D2 19 /* Y4 */
#define CAM_PIN_D1 18 /* Y3 */
#define CAM_PIN_D0 5  /* Y2 */
#define CAM_PIN_VSYNC 25
#define CAM_PIN_HREF 23
#define CAM_PIN_PCLK 22
#define CAM_XCLK_HZ 20000000

#define BOARD_FLASH_LED_PIN 4  /* the white flash LED, active high: kept off */
#define BOARD_STATUS_LED_PIN 33 /* the small red LED, active low: on while streaming */

/* Without PSRAM the frame buffer lives in internal DRAM; CIF (400x296) is the largest size
 * whose JPEG buffer still leaves room for Wi-Fi, mbedTLS and the send buffer. */
#ifndef SECURECAM_NO_PSRAM_MAX_FRAME_SIZE
#define SECURECAM_NO_PSRAM_MAX_FRAME_SIZE 3 /* CIF */
#endif

/* One SecureCam FrameSize code and what it is in esp32-camera's terms. */
struct FrameSizeInfo {
    uint8_t code;      /* wire code 1..10 */
    framesize_t size;  /* esp32-camera's enum, by name: its numeric values differ by version */
    uint16_t width;
    uint16_t height;
    const char *name;
};

class CameraBoard {
public:
    /* The largest JPEG buffer esp32-camera allocates here (UXGA with PSRAM). */
    static const uint32_t kMaxJpegBuffer = SC_CONFIG_JPEG_BUFFER_PSRAM;

    /* Detect PSRAM and start the camera with these settings (a frame size over the board's
     * limit is clamped). False when esp_camera_init fails; begin may be called again. */
    bool begin(uint8_t frame_size, uint8_t quality);
    bool ready() const { return ready_; }
    bool has_psram() const { return psram_; }

    /* Live changes through sensor_t. An unknown code is ignored (false); a size over
     * max_frame_size() is clamped. The quality asked for is raised to the lowest one whose
     * worst-case frame still fits the JPEG buffer at the size in force (docs/JPEG-BUFFER.md),
     * so no accepted setting overflows. frame_size()/quality() are the settings in force. */
    bool set_frame_size(uint8_t code);
    bool set_quality(uint8_t quality);
    uint8_t frame_size() const { return frame_size_; }
    uint8_t quality() const { return quality_; }
    uint8_t max_frame_size() const { return max_frame_size_; }

    /* The newest JPEG frame, or nullptr when none is ready yet; never waits. A capture is
     * then under way on the camera's own task (esp_camera_fb_get waits for the sensor, up
     * to 4 s when it hangs): call again. Hand the frame back with release() as soon as its
     * last chunk is sealed: with PSRAM the driver keeps filling the other buffer meanwhile. */
    camera_fb_t *grab();
    void release(camera_fb_t *fb);

    /* Forget a frame asked for and not taken (a session ended): by the next session, after
     * a back-off of up to a minute, it would be old. The next grab() asks for a new one. */
    void discard() { discard_ = requested_; }

    static const FrameSizeInfo *lookup(uint8_t code);

    /* camera_fb_t.timestamp (esp32-camera stamps it from esp_timer_get_time() when the
     * frame's first DMA buffer arrives) in microseconds; `now_us` when it is missing or from
     * another clock (later than now). */
    static uint64_t capture_us(const camera_fb_t *fb, uint64_t now_us);

private:
    bool apply_quality();

    bool ready_ = false;
    bool psram_ = false;
    bool requested_ = false; /* a capture was asked of the camera's task */
    bool discard_ = false;   /* its answer goes back to the driver unused */
    uint8_t frame_size_ = 0;
    uint8_t quality_ = 0;        /* in force */
    uint8_t wanted_quality_ = 0; /* asked for */
    uint8_t max_frame_size_ = 0;
    uint32_t jpeg_buffer_ = 0;   /* bytes per JPEG frame buffer */
};

#endif
