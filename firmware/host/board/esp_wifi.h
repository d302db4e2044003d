/* HOST MODEL of ESP-IDF's esp_wifi.h (firmware/host/board): not the SDK. */
#pragma once
#include "esp_err.h"
#include "esp_wifi_types.h"
#ifdef __cplusplus
extern "C" {
#endif
esp_err_t esp_wifi_scan_stop(void);
#ifdef __cplusplus
}
#endif
