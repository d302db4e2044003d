/* STUB of ESP-IDF esp_heap_caps.h (see README.md): not the SDK. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#define MALLOC_CAP_SPIRAM (1 << 10)
#define MALLOC_CAP_INTERNAL (1 << 11)
#ifdef __cplusplus
extern "C" {
#endif
size_t heap_caps_get_free_size(uint32_t caps);
#ifdef __cplusplus
}
#endif
