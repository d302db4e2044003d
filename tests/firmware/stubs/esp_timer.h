/* STUB of ESP-IDF esp_timer.h (see README.md): not the SDK. */
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
int64_t esp_timer_get_time(void);
#ifdef __cplusplus
}
#endif
