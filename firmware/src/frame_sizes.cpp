/* The frame sizes and capture stamps of camera_board.h that do not touch the driver: shared by
 * the board and the host model of its sensor (firmware/host/board/esp_camera_model.cpp). */
#include "camera_board.h"

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
