/* One-line log messages on the serial port, in the ESP-IDF style ("I (1234) securecam: ..."),
 * between the console's Improv packets. The Improv parser skips them as noise (PROVISIONING.md
 * 2). Never pass the Noise key or the Wi-Fi password; pass untrusted text (SSIDs, close
 * reasons) through board_log_text first. */
#ifndef SECURECAM_BOARD_LOG_H
#define SECURECAM_BOARD_LOG_H

#include <stddef.h>

void board_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A printable copy of untrusted text: control bytes become '?', so an SSID can neither break
 * the log line nor forge an Improv header ("IMPROV" is followed by the byte 0x01). */
void board_log_text(char *out, size_t cap, const char *in);

#endif
