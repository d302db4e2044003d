/* esp32-camera on the host (esp_camera.h): the OV2640 behind the driver, so the board's real
 * camera_board.cpp (its capture task, the quality floor, the sensor_t calls) runs here. The
 * sensor finishes a frame every 1/fps s whether or not anyone takes it; esp_camera_fb_get
 * waits for a frame not yet taken and returns the newest finished one (CAMERA_GRAB_LATEST,
 * two buffers), or nullptr after the driver's 4 s; a JPEG larger than the buffer sized at init
 * (w*h/5) is dropped, as the driver drops it (FB-OVF). Frames are JPEG files served in turn,
 * stamped with their capture time: with --frames the same files whatever the settings; with
 * --frames-by-setting, like a real OV2640, the files rendered at the frame size in force (its
 * WIDTHxHEIGHT directory) and at the rendered JPEG quality nearest the one in force (a tie
 * goes to the higher number, the smaller frames), as in force when the driver hands the frame
 * out. A size with no rendered frames is refused by set_framesize (the firmware logs "could
 * not switch" and keeps its size). */
#include <Arduino.h>
#include <esp_camera.h>

#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "board_compat.h"
#include "camera_board.h"
#include "host_model.h"

namespace {

const uint64_t kFbGetTimeoutUs = 4000000; /* esp32-camera's FB_GET_TIMEOUT */

struct Buffer {
    std::vector<uint8_t> jpeg;
    camera_fb_t fb{};
    bool held = false;
};

struct Driver {
    std::mutex mu;
    bool running = false;
    uint32_t jpeg_buffer = 0;
    framesize_t size = FRAMESIZE_INVALID;
    int quality = 0;
    uint64_t start_us = 0;
    int64_t last_taken = -1;
    Buffer buffers[2];
    bool streaming = false;
    uint64_t captured = 0;   /* finished by the sensor while the stream was up */
    uint64_t overflowed = 0; /* dropped for not fitting the buffer */
};

Driver d;
sensor_t s_sensor;

const FrameSizeInfo *info_for(framesize_t size)
{
    for (uint8_t code = 1; code <= 10; code++) {
        const FrameSizeInfo *info = CameraBoard::lookup(code);
        if (info != nullptr && info->size == size) {
            return info;
        }
    }
    return nullptr;
}

/* The frames the sensor makes at `size` and `quality`; nullptr when none were rendered. */
const std::vector<std::vector<uint8_t>> *frames_for(framesize_t size, int quality)
{
    if (g_sensor.by_setting.empty()) {
        return g_sensor.frames.empty() ? nullptr : &g_sensor.frames;
    }
    const FrameSizeInfo *info = info_for(size);
    const FrameSet *best = nullptr;
    for (const FrameSet &set : g_sensor.by_setting) {
        if (info == nullptr || set.width != info->width || set.height != info->height ||
            set.frames.empty()) {
            continue;
        }
        int distance = abs(set.quality - quality);
        int best_distance = best == nullptr ? 0 : abs(best->quality - quality);
        if (best == nullptr || distance < best_distance ||
            (distance == best_distance && set.quality > best->quality)) {
            best = &set;
        }
    }
    return best == nullptr ? nullptr : &best->frames;
}

int64_t frames_finished(uint64_t now_us)
{
    return static_cast<int64_t>(static_cast<double>(now_us - d.start_us) * g_sensor.fps / 1e6);
}

int set_framesize(sensor_t *sensor, framesize_t size)
{
    (void)sensor;
    std::lock_guard<std::mutex> lock(d.mu);
    if (info_for(size) == nullptr || frames_for(size, d.quality) == nullptr) {
        return -1; /* not a size this sensor knows, or none rendered for the model */
    }
    d.size = size;
    return 0;
}

int set_quality(sensor_t *sensor, int quality)
{
    (void)sensor;
    std::lock_guard<std::mutex> lock(d.mu);
    d.quality = quality;
    g_stats.sensor_quality = quality;
    return 0;
}

/* The newest finished frame not yet taken, in a free buffer; nullptr when there is none yet. */
camera_fb_t *take_newest(uint64_t now_us)
{
    int64_t newest = frames_finished(now_us) - 1;
    if (newest <= d.last_taken) {
        return nullptr;
    }
    Buffer *free_buffer = !d.buffers[0].held ? &d.buffers[0]
                          : !d.buffers[1].held ? &d.buffers[1]
                                               : nullptr;
    if (free_buffer == nullptr) {
        return nullptr; /* both buffers are out: the DMA has nowhere to write */
    }
    const std::vector<std::vector<uint8_t>> *frames = frames_for(d.size, d.quality);
    if (frames == nullptr) {
        return nullptr; /* the init size with none rendered: nothing until set_framesize */
    }
    if (d.streaming && d.last_taken >= 0) {
        d.captured += static_cast<uint64_t>(newest - d.last_taken);
    }
    d.last_taken = newest;
    const std::vector<uint8_t> &jpeg = (*frames)[static_cast<size_t>(newest) % frames->size()];
    if (jpeg.size() > d.jpeg_buffer) {
        d.overflowed++; /* FB-OVF: the driver drops it and waits for the next */
        return nullptr;
    }
    const FrameSizeInfo *info = info_for(d.size);
    uint64_t captured = d.start_us + static_cast<uint64_t>(static_cast<double>(newest) * 1e6 /
                                                           g_sensor.fps);
    free_buffer->jpeg = jpeg;
    free_buffer->held = true;
    camera_fb_t &fb = free_buffer->fb;
    fb.buf = free_buffer->jpeg.data();
    fb.len = free_buffer->jpeg.size();
    fb.width = info->width;
    fb.height = info->height;
    fb.format = PIXFORMAT_JPEG;
    fb.timestamp.tv_sec = static_cast<time_t>(captured / 1000000u);
    fb.timestamp.tv_usec = static_cast<suseconds_t>(captured % 1000000u);
    return &fb;
}

} // namespace

void model_sensor_stream(bool on)
{
    std::lock_guard<std::mutex> lock(d.mu);
    d.streaming = on;
}

void model_sensor_counts(uint64_t *captured, uint64_t *overflowed)
{
    std::lock_guard<std::mutex> lock(d.mu);
    *captured = d.captured;
    *overflowed = d.overflowed;
}

bool psramFound()
{
    return true; /* the AI-Thinker board's 4 MB */
}

esp_err_t esp_camera_init(const camera_config_t *config)
{
    std::lock_guard<std::mutex> lock(d.mu);
    const FrameSizeInfo *info = info_for(config->frame_size);
    if (d.running) {
        return ESP_ERR_INVALID_STATE;
    }
    if (info == nullptr || config->pixel_format != PIXFORMAT_JPEG || config->fb_count != 2 ||
        config->grab_mode != CAMERA_GRAB_LATEST ||
        (g_sensor.frames.empty() && g_sensor.by_setting.empty())) {
        return ESP_ERR_INVALID_ARG; /* the model covers the board's PSRAM configuration */
    }
    d.jpeg_buffer = static_cast<uint32_t>(info->width) * info->height / 5;
    d.size = config->frame_size;
    d.quality = config->jpeg_quality;
    g_stats.sensor_quality = d.quality;
    d.start_us = board_now_us();
    d.last_taken = -1;
    memset(&s_sensor, 0, sizeof s_sensor);
    s_sensor.set_framesize = &set_framesize;
    s_sensor.set_quality = &set_quality;
    d.running = true;
    return ESP_OK;
}

esp_err_t esp_camera_deinit(void)
{
    std::lock_guard<std::mutex> lock(d.mu);
    if (!d.running) {
        return ESP_ERR_INVALID_STATE;
    }
    d.running = false;
    return ESP_OK;
}

sensor_t *esp_camera_sensor_get(void)
{
    std::lock_guard<std::mutex> lock(d.mu);
    return d.running ? &s_sensor : nullptr;
}

camera_fb_t *esp_camera_fb_get(void)
{
    uint64_t deadline = board_now_us() + kFbGetTimeoutUs;
    for (;;) {
        uint64_t now = board_now_us();
        {
            std::lock_guard<std::mutex> lock(d.mu);
            camera_fb_t *fb = take_newest(now);
            if (fb != nullptr) {
                return fb;
            }
        }
        if (now >= deadline) {
            return nullptr; /* "Failed to get the frame on time!" */
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

void esp_camera_fb_return(camera_fb_t *fb)
{
    std::lock_guard<std::mutex> lock(d.mu);
    for (Buffer &b : d.buffers) {
        if (&b.fb == fb) {
            b.held = false;
        }
    }
}
