/* STUB of esp32-camera driver/include/sensor.h (see README.md): not the SDK. Only the
 * members the firmware uses; the enums keep the real names (and, here, the real order). */
#pragma once
#include <stdint.h>

typedef enum {
    PIXFORMAT_RGB565,
    PIXFORMAT_YUV422,
    PIXFORMAT_YUV420,
    PIXFORMAT_GRAYSCALE,
    PIXFORMAT_JPEG,
    PIXFORMAT_RGB888,
    PIXFORMAT_RAW,
    PIXFORMAT_RGB444,
    PIXFORMAT_RGB555,
} pixformat_t;

typedef enum {
    FRAMESIZE_96X96,
    FRAMESIZE_QQVGA,
    FRAMESIZE_128X128,
    FRAMESIZE_QCIF,
    FRAMESIZE_HQVGA,
    FRAMESIZE_240X240,
    FRAMESIZE_QVGA,
    FRAMESIZE_320X320,
    FRAMESIZE_CIF,
    FRAMESIZE_HVGA,
    FRAMESIZE_VGA,
    FRAMESIZE_SVGA,
    FRAMESIZE_XGA,
    FRAMESIZE_HD,
    FRAMESIZE_SXGA,
    FRAMESIZE_UXGA,
    FRAMESIZE_FHD,
    FRAMESIZE_P_HD,
    FRAMESIZE_P_3MP,
    FRAMESIZE_QXGA,
    FRAMESIZE_QHD,
    FRAMESIZE_WQXGA,
    FRAMESIZE_P_FHD,
    FRAMESIZE_QSXGA,
    FRAMESIZE_5MP,
    FRAMESIZE_INVALID
} framesize_t;

typedef struct _sensor sensor_t;
typedef struct _sensor {
    int (*init_status)(sensor_t *sensor);
    int (*reset)(sensor_t *sensor);
    int (*set_pixformat)(sensor_t *sensor, pixformat_t pixformat);
    int (*set_framesize)(sensor_t *sensor, framesize_t framesize);
    int (*set_contrast)(sensor_t *sensor, int level);
    int (*set_brightness)(sensor_t *sensor, int level);
    int (*set_saturation)(sensor_t *sensor, int level);
    int (*set_sharpness)(sensor_t *sensor, int level);
    int (*set_denoise)(sensor_t *sensor, int level);
    int (*set_gainceiling)(sensor_t *sensor, int gainceiling);
    int (*set_quality)(sensor_t *sensor, int quality);
    int (*set_colorbar)(sensor_t *sensor, int enable);
    int (*set_whitebal)(sensor_t *sensor, int enable);
    int (*set_gain_ctrl)(sensor_t *sensor, int enable);
    int (*set_exposure_ctrl)(sensor_t *sensor, int enable);
    int (*set_hmirror)(sensor_t *sensor, int enable);
    int (*set_vflip)(sensor_t *sensor, int enable);
} sensor_t;
