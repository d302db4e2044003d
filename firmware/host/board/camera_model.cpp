/* CameraBoard on the host (camera_board.h): the OV2640 behind esp32-camera as the board uses
 * it. The sensor finishes a frame every 1/fps s whether or not anyone takes it; grab() hands
 * out the newest finished frame not yet taken (two PSRAM buffers, CAMERA_GRAB_LATEST), never
 * waiting; a JPEG larger than the buffer esp32-camera sized at init is dropped, as the driver
 * drops it. Frames are the given JPEG files in turn, stamped with their capture time. */
#include "camera_board.h"

#include <vector>

#include "board_compat.h"
#include "board_log.h"
#include "host_model.h"

namespace {

struct Sensor {
    uint64_t start_us = 0;
    int64_t last_taken = -1; /* index of the newest frame handed out */
    bool streaming = false;
    std::vector<uint8_t> held; /* the frame the loop holds */
    camera_fb_t fb{};
};

Sensor s;

int64_t frames_finished(uint64_t now_us)
{
    double period = 1e6 / g_sensor.fps;
    return static_cast<int64_t>(static_cast<double>(now_us - s.start_us) / period);
}

} // namespace

void model_sensor_stream(bool on)
{
    s.streaming = on;
}

bool CameraBoard::begin(uint8_t frame_size, uint8_t quality)
{
    psram_ = true; /* the AI-Thinker board's 4 MB PSRAM */
    max_frame_size_ = 10;
    jpeg_buffer_ = sc_config_jpeg_buffer_bytes(max_frame_size_);
    wanted_quality_ = quality;
    frame_size_ = lookup(frame_size) != nullptr ? frame_size : 5;
    quality_ = 0;
    ready_ = true;
    requested_ = false;
    (void)apply_quality();
    s.start_us = board_now_us();
    board_log("camera: ready (host model), %s, JPEG quality %u", lookup(frame_size_)->name,
              static_cast<unsigned>(quality_));
    return true;
}

bool CameraBoard::set_frame_size(uint8_t code)
{
    if (!ready_ || lookup(code) == nullptr) {
        return false;
    }
    frame_size_ = code > max_frame_size_ ? max_frame_size_ : code;
    return apply_quality();
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
    quality_ = sc_config_jpeg_quality_in_force(frame_size_, wanted_quality_, jpeg_buffer_);
    return true;
}

camera_fb_t *CameraBoard::grab()
{
    if (!ready_ || g_sensor.frames.empty() || !s.held.empty()) {
        return nullptr;
    }
    uint64_t now = board_now_us();
    int64_t newest = frames_finished(now) - 1;
    if (newest <= s.last_taken) {
        return nullptr; /* the next one is still being captured */
    }
    if (s.streaming && s.last_taken >= 0) {
        g_stats.frames_captured += static_cast<uint64_t>(newest - s.last_taken);
    }
    s.last_taken = newest;
    const std::vector<uint8_t> &jpeg =
        g_sensor.frames[static_cast<size_t>(newest) % g_sensor.frames.size()];
    if (jpeg.size() > jpeg_buffer_) {
        g_stats.frames_overflowed++; /* FB-OVF: the driver drops it */
        return nullptr;
    }
    s.held = jpeg;
    uint64_t captured = s.start_us + static_cast<uint64_t>(static_cast<double>(newest) * 1e6 /
                                                           g_sensor.fps);
    s.fb.buf = s.held.data();
    s.fb.len = s.held.size();
    s.fb.width = g_sensor.width;
    s.fb.height = g_sensor.height;
    s.fb.format = PIXFORMAT_JPEG;
    s.fb.timestamp.tv_sec = static_cast<time_t>(captured / 1000000u);
    s.fb.timestamp.tv_usec = static_cast<suseconds_t>(captured % 1000000u);
    return &s.fb;
}

void CameraBoard::release(camera_fb_t *fb)
{
    if (fb == &s.fb) {
        s.held.clear();
    }
}
