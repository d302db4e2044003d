/* STUB of ESP-IDF esp_system.h (see README.md): not the SDK. */
#pragma once
#include "esp_err.h"
#include "esp_random.h"
#ifdef __cplusplus
extern "C" {
#endif
void esp_restart(void) __attribute__((noreturn));
#ifdef __cplusplus
}
#endif
