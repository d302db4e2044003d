/* The few ESP-IDF calls whose header moved between ESP-IDF 4.4 (Arduino-ESP32 2.x) and 5.x
 * (Arduino-ESP32 3.x), in one place. */
#ifndef SECURECAM_BOARD_COMPAT_H
#define SECURECAM_BOARD_COMPAT_H

#include <stdint.h>

#include <esp_idf_version.h>
#include <esp_timer.h>

/* esp_random / esp_fill_random: esp_random.h in recent ESP-IDF, esp_system.h before. */
#if defined(__has_include)
#if __has_include(<esp_random.h>)
#include <esp_random.h>
#else
#include <esp_system.h>
#endif
#else
#include <esp_system.h>
#endif

/* The device clock of docs/PROTOCOL.md 7: microseconds since boot, monotonic. */
static inline uint64_t board_now_us(void)
{
    return (uint64_t)esp_timer_get_time();
}

#endif
