/* Serial log lines (board_log.h). */
#include "board_log.h"

#include <Arduino.h>
#include <stdarg.h>
#include <stdio.h>

void board_log(const char *fmt, ...)
{
    char line[192];
    int n = snprintf(line, sizeof line, "I (%lu) securecam: ", (unsigned long)millis());
    if (n < 0) {
        return;
    }
    size_t used = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + used, sizeof line - used, fmt, ap);
    va_end(ap);
    if (m > 0) {
        used += (size_t)m < sizeof line - used ? (size_t)m : sizeof line - used - 1;
    }
    Serial.write(reinterpret_cast<const uint8_t *>(line), used);
    Serial.write(reinterpret_cast<const uint8_t *>("\r\n"), 2);
}

void board_log_text(char *out, size_t cap, const char *in)
{
    if (cap == 0) {
        return;
    }
    size_t o = 0;
    for (; in != nullptr && *in != '\0' && o + 1 < cap; in++) {
        unsigned char c = static_cast<unsigned char>(*in);
        out[o++] = c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
    }
    out[o] = '\0';
}
