/* Names and versions the firmware reports: Improv device information, STATUS records. */
#ifndef SECURECAM_FIRMWARE_INFO_H
#define SECURECAM_FIRMWARE_INFO_H

#define SECURECAM_FIRMWARE_NAME "securecam-fw"
#define SECURECAM_FIRMWARE_VERSION "0.1.0"
/* STATUS.firmware: "securecam-fw/0.1.0" (docs/PROTOCOL.md 4, STATUS). */
#define SECURECAM_FIRMWARE_ID SECURECAM_FIRMWARE_NAME "/" SECURECAM_FIRMWARE_VERSION
/* Improv "hardware" string: board / chip. */
#define SECURECAM_HARDWARE "esp32cam/esp32"

#endif
