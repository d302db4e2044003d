/* The ESP-IDF and Arduino calls the board layer makes, on the host: the clock, randomness,
 * delay() (time spent in it counts as blocked), the heap figures of an idle ESP32-CAM, and
 * Serial (the UART log) on stderr. */
#include <Arduino.h>
#include <esp_heap_caps.h>
#include <esp_random.h>
#include <esp_timer.h>

#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "host_model.h"

namespace {

uint64_t clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

const uint64_t s_boot_us = clock_us(CLOCK_MONOTONIC);
uint64_t s_iter_wall_us = 0;
uint64_t s_iter_start_us = 0;
uint64_t s_iter_cpu_us = 0;
uint64_t s_iter_blocked_us = 0;
bool s_in_iteration = false;

} // namespace

LinkParams g_link;
SensorParams g_sensor;
ModelStats g_stats;

uint64_t model_now_us()
{
    return clock_us(CLOCK_MONOTONIC) - s_boot_us + 1; /* the board's clock starts at boot */
}

void model_iteration_begin()
{
    g_stats.iterations++;
    s_in_iteration = true;
    s_iter_blocked_us = 0;
    s_iter_wall_us = clock_us(CLOCK_MONOTONIC);
    s_iter_start_us = model_now_us();
    s_iter_cpu_us = clock_us(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t model_iteration_start_us()
{
    return s_iter_start_us;
}

void model_iteration_end()
{
    uint64_t wall = clock_us(CLOCK_MONOTONIC) - s_iter_wall_us;
    uint64_t cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - s_iter_cpu_us;
    s_in_iteration = false;
    if (wall > g_stats.worst_wall_us) {
        g_stats.worst_wall_us = wall;
    }
    if (cpu > g_stats.worst_cpu_us) {
        g_stats.worst_cpu_us = cpu;
    }
    if (s_iter_blocked_us > g_stats.worst_blocked_us) {
        g_stats.worst_blocked_us = s_iter_blocked_us;
    }
}

int64_t esp_timer_get_time(void)
{
    return static_cast<int64_t>(model_now_us());
}

unsigned long millis()
{
    return static_cast<unsigned long>(model_now_us() / 1000u);
}

unsigned long micros()
{
    return static_cast<unsigned long>(model_now_us());
}

void delay(uint32_t ms)
{
    uint64_t start = clock_us(CLOCK_MONOTONIC);
    struct timespec ts = {static_cast<time_t>(ms / 1000u), static_cast<long>(ms % 1000u) * 1000000L};
    nanosleep(&ts, nullptr);
    if (s_in_iteration) {
        s_iter_blocked_us += clock_us(CLOCK_MONOTONIC) - start;
    }
    model_link_advance();
}

void esp_fill_random(void *buf, size_t len)
{
    uint8_t *p = static_cast<uint8_t *>(buf);
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n > 0) {
            p += n;
            len -= static_cast<size_t>(n);
        }
    }
}

uint32_t esp_random(void)
{
    uint32_t r;
    esp_fill_random(&r, sizeof r);
    return r;
}

size_t heap_caps_get_free_size(uint32_t caps)
{
    /* What an ESP32-CAM streaming at UXGA has left (figures of the same order as a board's). */
    return (caps & MALLOC_CAP_SPIRAM) != 0 ? 3400000u : 120000u;
}

/* Serial: the UART the board logs on. */
HardwareSerial::HardwareSerial(int uart_nr)
{
    (void)uart_nr;
}

HardwareSerial::~HardwareSerial()
{
}

size_t HardwareSerial::write(uint8_t c)
{
    return fputc(c, stderr) == EOF ? 0 : 1;
}

size_t HardwareSerial::write(const uint8_t *buffer, size_t size)
{
    return fwrite(buffer, 1, size, stderr);
}

int HardwareSerial::available(void)
{
    return 0;
}

int HardwareSerial::read(void)
{
    return -1;
}

int HardwareSerial::peek(void)
{
    return -1;
}

void HardwareSerial::flush(void)
{
    fflush(stderr);
}

size_t Print::write(const uint8_t *buffer, size_t size)
{
    size_t n = 0;
    while (n < size && write(buffer[n]) == 1) {
        n++;
    }
    return n;
}

HardwareSerial Serial(0);
