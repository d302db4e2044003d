/* esp32-camera on the AI-Thinker ESP32-CAM (camera_board.h). */
#include "camera_board.h"

#include <Arduino.h>
#include <esp_timer.h>
#include <string.h>

#include "board_log.h"

/* SecureCam FrameSize code -> esp32-camera framesize_t, by name (docs/PROTOCOL.md 4).
 * tests/firmware/test_board_layer.py checks this table against app/protocol/framesize.py. */
static const FrameSizeInfo kFrameSizes[] = {
    {1, FRAMESIZE_QQVGA, 160, 120, "QQVGA"},
    {2, FRAMESIZE_QVGA, 320, 240, "QVGA"},
    {3, FRAMESIZE_CIF, 400, 296, "CIF"},
    {4, FRAMESIZE_HVGA, 480, 320, "HVGA"},
    {5, FRAMESIZE_VGA, 640, 480, "VGA"},
    {6, FRAMESIZE_SVGA, 800, 600, "SVGA"},
    {7, FRAMESIZE_XGA, 1024, 768, "XGA"},
    {8, FRAMESIZE_HD, 1280, 720, "HD"},
    {9, FRAMESIZE_SXGA, 1280, 1024, "SXGA"},
    {10, FRAMESIZE_UXGA, 1600, 1200, "UXGA"},
};
static const uint8_t kLargestFrameSize = 10; /* UXGA, the OV2640's full resolution */

/* Without PSRAM there is one frame buffer, filled when it is empty: a frame fetched long
 * after the previous one was returned shows the past. Older than this, it is dropped once. */
static const uint64_t kStaleFrameUs = 150000;

const FrameSizeInfo *CameraBoard::lookup(uint8_t code)
{
    for (const FrameSizeInfo &info : kFrameSizes) {
        if (info.code == code) {
            return &info;
        }
    }
    return nullptr;
}

uint64_t CameraBoard::capture_us(const camera_fb_t *fb, uint64_t now_us)
{
    uint64_t us = static_cast<uint64_t>(fb->timestamp.tv_sec) * 1000000ULL +
                  static_cast<uint64_t>(fb->timestamp.tv_usec);
    return us == 0 || us > now_us ? now_us : us;
}

bool CameraBoard::begin(uint8_t frame_size, uint8_t quality)
{
    if (ready_) {
        return true;
    }
    (void)esp_camera_deinit(); /* after a failed attempt; harmless (INVALID_STATE) otherwise */
    psram_ = psramFound();
    max_frame_size_ = psram_ ? kLargestFrameSize : SECURECAM_NO_PSRAM_MAX_FRAME_SIZE;

    camera_config_t config;
    memset(&config, 0, sizeof config);
    config.pin_pwdn = CAM_PIN_PWDN;
    config.pin_reset = CAM_PIN_RESET;
    config.pin_xclk = CAM_PIN_XCLK;
    config.pin_sccb_sda = CAM_PIN_SIOD;
    config.pin_sccb_scl = CAM_PIN_SIOC;
    config.pin_d7 = CAM_PIN_D7;
    config.pin_d6 = CAM_PIN_D6;
    config.pin_d5 = CAM_PIN_D5;
    config.pin_d4 = CAM_PIN_D4;
    config.pin_d3 = CAM_PIN_D3;
    config.pin_d2 = CAM_PIN_D2;
    config.pin_d1 = CAM_PIN_D1;
    config.pin_d0 = CAM_PIN_D0;
    config.pin_vsync = CAM_PIN_VSYNC;
    config.pin_href = CAM_PIN_HREF;
    config.pin_pclk = CAM_PIN_PCLK;
    config.xclk_freq_hz = CAM_XCLK_HZ;
    config.ledc_timer = LEDC_TIMER_0;
    config.ledc_channel = LEDC_CHANNEL_0;
    config.pixel_format = PIXFORMAT_JPEG;
    config.jpeg_quality = quality;
    /* esp32-camera sizes its JPEG buffers for the frame size given here, so start at the
     * largest size allowed and switch down through the sensor afterwards (as Arduino's
     * CameraWebServer does): a later CONTROL to a larger size then still fits. */
    config.frame_size = lookup(max_frame_size_)->size;
    if (psram_) {
        /* Two buffers in PSRAM, the queue always holding the newest frame: while one frame
         * is being sent the driver fills the other, so capture waits for at most one frame. */
        config.fb_count = 2;
        config.fb_location = CAMERA_FB_IN_PSRAM;
        config.grab_mode = CAMERA_GRAB_LATEST;
    } else {
        config.fb_count = 1;
        config.fb_location = CAMERA_FB_IN_DRAM;
        config.grab_mode = CAMERA_GRAB_WHEN_EMPTY;
    }

    esp_err_t err = esp_camera_init(&config);
    if (err != ESP_OK) {
        board_log("camera: init failed (0x%x): check the ribbon cable and the 5 V supply",
                  static_cast<unsigned>(err));
        return false;
    }
    ready_ = true;
    quality_ = quality;
    frame_size_ = max_frame_size_;
    if (!set_frame_size(frame_size)) {
        (void)set_frame_size(max_frame_size_ < 5 ? max_frame_size_ : 5); /* VGA */
    }
    board_log("camera: ready, %s, %s, JPEG quality %u", psram_ ? "PSRAM (2 buffers)"
                                                               : "no PSRAM (1 DRAM buffer)",
              lookup(frame_size_)->name, static_cast<unsigned>(quality_));
    return true;
}

bool CameraBoard::set_frame_size(uint8_t code)
{
    if (!ready_ || lookup(code) == nullptr) {
        return false;
    }
    if (code > max_frame_size_) {
        code = max_frame_size_;
    }
    if (code == frame_size_) {
        return true;
    }
    sensor_t *s = esp_camera_sensor_get();
    if (s == nullptr || s->set_framesize(s, lookup(code)->size) != 0) {
        board_log("camera: could not switch to %s", lookup(code)->name);
        return false;
    }
    frame_size_ = code;
    return true;
}

bool CameraBoard::set_quality(uint8_t quality)
{
    if (!ready_) {
        return false;
    }
    if (quality == quality_) {
        return true;
    }
    sensor_t *s = esp_camera_sensor_get();
    if (s == nullptr || s->set_quality(s, quality) != 0) {
        board_log("camera: could not set JPEG quality %u", static_cast<unsigned>(quality));
        return false;
    }
    quality_ = quality;
    return true;
}

camera_fb_t *CameraBoard::grab()
{
    if (!ready_) {
        return nullptr;
    }
    camera_fb_t *fb = esp_camera_fb_get();
    if (fb != nullptr && !psram_) {
        uint64_t now = static_cast<uint64_t>(esp_timer_get_time());
        if (now - capture_us(fb, now) > kStaleFrameUs) {
            esp_camera_fb_return(fb);
            fb = esp_camera_fb_get();
        }
    }
    if (fb == nullptr) {
        return nullptr;
    }
    if (fb->format != PIXFORMAT_JPEG || fb->len == 0 || fb->buf == nullptr) {
        esp_camera_fb_return(fb);
        return nullptr;
    }
    return fb;
}

void CameraBoard::release(camera_fb_t *fb)
{
    if (fb != nullptr) {
        esp_camera_fb_return(fb);
    }
}
