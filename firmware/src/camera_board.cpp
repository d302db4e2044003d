/* esp32-camera on the AI-Thinker ESP32-CAM (camera_board.h). */
#include "camera_board.h"

#include <Arduino.h>
#include <esp_timer.h>
#include <freertos/FreeRTOS.h>
#include <freertos/queue.h>
#include <freertos/task.h>
#include <string.h>

#include "board_log.h"

static const uint8_t kLargestFrameSize = 10; /* UXGA, the OV2640's full resolution */

/* Without PSRAM there is one frame buffer, filled when it is empty: a frame fetched long
 * after the previous one was returned shows the past. Older than this, it is dropped once. */
static const uint64_t kStaleFrameUs = 150000;
static const uint32_t kCaptureStack = 3072; /* esp_camera_fb_get and a log line */

/* The camera's own task: esp_camera_fb_get waits for the sensor (a frame time, and up to
 * 4 s when the sensor hangs), which the loop must never do. The loop asks for a frame with a
 * task notification; the answer (nullptr when none came) comes back through a one-slot queue
 * that is always empty when the loop asks. */
static TaskHandle_t s_capture_task = nullptr;
static QueueHandle_t s_captured = nullptr;
static bool s_psram = false;

static camera_fb_t *capture_one()
{
    camera_fb_t *fb = esp_camera_fb_get();
    if (fb != nullptr && !s_psram) {
        uint64_t now = static_cast<uint64_t>(esp_timer_get_time());
        if (now - CameraBoard::capture_us(fb, now) > kStaleFrameUs) {
            esp_camera_fb_return(fb);
            fb = esp_camera_fb_get();
        }
    }
    if (fb != nullptr && (fb->format != PIXFORMAT_JPEG || fb->len == 0 || fb->buf == nullptr)) {
        esp_camera_fb_return(fb);
        fb = nullptr;
    }
    return fb;
}

static void capture_task(void *arg)
{
    (void)arg;
    for (;;) {
        (void)ulTaskNotifyTake(pdTRUE, portMAX_DELAY);
        camera_fb_t *fb = capture_one();
        (void)xQueueSend(s_captured, &fb, portMAX_DELAY);
    }
}

bool CameraBoard::begin(uint8_t frame_size, uint8_t quality)
{
    if (ready_) {
        return true;
    }
    (void)esp_camera_deinit(); /* after a failed attempt; harmless (INVALID_STATE) otherwise */
    psram_ = psramFound();
    s_psram = psram_;
    max_frame_size_ = psram_ ? kLargestFrameSize : SECURECAM_NO_PSRAM_MAX_FRAME_SIZE;
    jpeg_buffer_ = sc_config_jpeg_buffer_bytes(max_frame_size_);
    wanted_quality_ = quality;

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
    /* The driver's first frames come at the init size: a quality that fits there. */
    config.jpeg_quality = sc_config_jpeg_quality_in_force(max_frame_size_, quality, jpeg_buffer_);
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
    if (s_capture_task == nullptr) {
        s_captured = xQueueCreate(1, sizeof(camera_fb_t *));
        if (s_captured == nullptr ||
            xTaskCreate(&capture_task, "capture", kCaptureStack, nullptr, 1, &s_capture_task) !=
                pdPASS) {
            board_log("camera: no memory for the capture task");
            return false;
        }
    }
    ready_ = true;
    requested_ = false;
    quality_ = static_cast<uint8_t>(config.jpeg_quality);
    frame_size_ = max_frame_size_;
    if (!set_frame_size(frame_size)) {
        (void)set_frame_size(max_frame_size_ < 5 ? max_frame_size_ : 5); /* VGA */
    }
    (void)apply_quality();
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
    if (s == nullptr) {
        return false;
    }
    uint8_t previous = frame_size_;
    if (code > previous) {
        /* Larger: raise the quality to the new size's floor first, so no frame is ever taken
         * at the larger size with a quality that could overflow the buffer. */
        frame_size_ = code;
        if (!apply_quality()) {
            frame_size_ = previous;
            return false;
        }
    }
    if (s->set_framesize(s, lookup(code)->size) != 0) {
        board_log("camera: could not switch to %s", lookup(code)->name);
        frame_size_ = previous;
        return false;
    }
    frame_size_ = code;
    (void)apply_quality(); /* smaller: the wanted quality may fit now */
    return true;
}

bool CameraBoard::set_quality(uint8_t quality)
{
    if (!ready_) {
        return false;
    }
    wanted_quality_ = quality;
    return apply_quality();
}

bool CameraBoard::apply_quality()
{
    uint8_t q = sc_config_jpeg_quality_in_force(frame_size_, wanted_quality_, jpeg_buffer_);
    if (q == quality_) {
        return true;
    }
    sensor_t *s = esp_camera_sensor_get();
    if (s == nullptr || s->set_quality(s, q) != 0) {
        board_log("camera: could not set JPEG quality %u", static_cast<unsigned>(q));
        return false;
    }
    if (q != wanted_quality_) {
        board_log("camera: JPEG quality %u at %s (%u could overflow the %lu-byte buffer)",
                  static_cast<unsigned>(q), lookup(frame_size_)->name,
                  static_cast<unsigned>(wanted_quality_), static_cast<unsigned long>(jpeg_buffer_));
    }
    quality_ = q;
    return true;
}

camera_fb_t *CameraBoard::grab()
{
    if (!ready_) {
        return nullptr;
    }
    if (requested_) {
        camera_fb_t *fb = nullptr;
        if (xQueueReceive(s_captured, &fb, 0) != pdTRUE) {
            return nullptr; /* still capturing */
        }
        requested_ = false;
        if (discard_) {
            discard_ = false;
            if (fb != nullptr) {
                esp_camera_fb_return(fb);
            }
        } else if (fb != nullptr) {
            return fb;
        } else {
            board_log("camera: no frame from the sensor in time; asking again");
        }
    }
    requested_ = true;
    (void)xTaskNotifyGive(s_capture_task);
    return nullptr;
}

void CameraBoard::release(camera_fb_t *fb)
{
    if (fb != nullptr) {
        esp_camera_fb_return(fb);
    }
}
