/* The USB-serial provisioning console: Improv Wi-Fi plus SecureCam's vendor RPC commands.
 *
 * Sans-I/O: the platform feeds received bytes in (sc_console_feed) and gets bytes out
 * through the `write` callback; Wi-Fi, reboot and persistence are callbacks too, so the same
 * code runs in the firmware and in the host build. Single-threaded: call every function
 * from one task. docs/PROVISIONING.md specifies the byte format.
 *
 * What the console sends: every packet is followed by '\n' (as ESPHome does), so line-based
 * Improv clients find the next packet after interleaved log lines. For each RPC command:
 *  - malformed packet or bad checksum        -> Error state 0x01
 *  - unknown command                         -> Error state 0x02
 *  - accepted command                        -> Error state 0x00, then its answer
 * The Noise key never appears in any output; configuration read-back shows its fingerprint.
 */
#ifndef SECURECAM_SC_CONSOLE_H
#define SECURECAM_SC_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securecam/sc_config.h"
#include "securecam/sc_improv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SC_CONSOLE_MAX_NETWORKS 16

/* SecureCam vendor RPC commands, inside Improv RPC packets. Their payload starts with
 * SC_EXT_MAGIC ("SC") and SC_EXT_VERSION; without that prefix a command in this range is
 * answered like any unknown Improv command (Error state 0x02). */
#define SC_EXT_CMD_FIRST 0xE0
#define SC_EXT_CMD_LAST 0xEF
#define SC_EXT_CMD_GET_CONFIG 0xE0
#define SC_EXT_CMD_SET_CONFIG 0xE1
#define SC_EXT_CMD_REBOOT 0xE2
#define SC_EXT_CMD_ERASE_CONFIG 0xE3
#define SC_EXT_MAGIC_0 'S'
#define SC_EXT_MAGIC_1 'C'
#define SC_EXT_VERSION 1
#define SC_EXT_PREFIX_LEN 3

/* SET_CONFIG TLV tags: tag | length | value. */
#define SC_EXT_TAG_SERVER_HOST 0x01  /* 1..63 bytes */
#define SC_EXT_TAG_SERVER_PORT 0x02  /* 2 bytes big-endian, 1..65535 */
#define SC_EXT_TAG_DEVICE_NAME 0x03  /* 1..32 bytes */
#define SC_EXT_TAG_KEY 0x04          /* 32 bytes, raw */
#define SC_EXT_TAG_FRAME_SIZE 0x05   /* 1 byte, FrameSize code 1..10 */
#define SC_EXT_TAG_JPEG_QUALITY 0x06 /* 1 byte, 4..63 */
#define SC_EXT_TAG_FPS_CAP 0x07      /* 1 byte, 1..254, 255 = no cap */

typedef struct {
    char ssid[SC_CONFIG_SSID_MAX + 1];
    int8_t rssi;  /* dBm */
    bool secured; /* shown to Improv clients as "YES" / "NO" */
} sc_wifi_network;

typedef enum {
    SC_WIFI_CONNECTED = 0,
    SC_WIFI_FAILED,
    SC_WIFI_PENDING /* the attempt continues; report it with sc_console_wifi_result */
} sc_wifi_attempt;

/* Every callback except reboot is required. The store must outlive the console. */
typedef struct {
    void *ctx;
    /* Bytes for the serial port, in order. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /* Fill up to max networks, return how many (a blocking scan is fine). */
    size_t (*wifi_scan)(void *ctx, sc_wifi_network *out, size_t max);
    /* Start (or make) a connection attempt with these credentials. The strings live until
     * the attempt is reported; copy them if the platform needs them longer. */
    sc_wifi_attempt (*wifi_connect)(void *ctx, const char *ssid, const char *password);
    /* Called after the reboot command's OK has been written. The platform must let that
     * output drain before restarting (e.g. set a flag and restart from its main loop). */
    void (*reboot)(void *ctx);
    const sc_config_store *store;
} sc_console_callbacks;

/* Device information for Improv's "request device information" (strings must outlive the
 * console). */
typedef struct {
    const char *firmware_name;    /* e.g. "securecam-fw" */
    const char *firmware_version; /* e.g. "1.0.0" */
    const char *hardware;         /* chip/variant, e.g. "esp32cam/esp32" */
} sc_console_info;

typedef struct {
    sc_console_callbacks cb;
    sc_console_info info;
    sc_config config;
    sc_improv_parser parser;
    sc_improv_packet packet;
    uint8_t out[SC_IMPROV_MAX_PACKET + 1]; /* one packet and its '\n' */
    sc_wifi_network networks[SC_CONSOLE_MAX_NETWORKS];
    char pending_ssid[SC_CONFIG_SSID_MAX + 1];
    char pending_pass[SC_CONFIG_PASS_MAX + 1];
    uint8_t state;   /* an SC_IMPROV_STATE_* value */
    bool connecting; /* a Wi-Fi attempt is pending */
    bool halted;     /* reboot requested: input is ignored until sc_console_init */
} sc_console;

/* Load the configuration from cb->store and start in state READY. Writes nothing. Returns
 * the load status (CORRUPT or STORE_FAILED still leave a usable default config). */
sc_config_status sc_console_init(sc_console *c, const sc_console_callbacks *cb,
                                 const sc_console_info *info);

/* Process received bytes; answers go out through cb.write before this returns. */
void sc_console_feed(sc_console *c, const uint8_t *data, size_t len);

/* The serial line has been silent for a while (~100 ms): give up on a partial packet,
 * answering Error state 0x01 if its header had arrived, and rescan what followed it. */
void sc_console_idle(sc_console *c);

/* Report the end of an attempt that wifi_connect answered with SC_WIFI_PENDING. Ignored
 * when no attempt is pending. */
void sc_console_wifi_result(sc_console *c, bool connected);

/* The platform's own connection state changed (e.g. it joined the stored network at boot):
 * switch between PROVISIONED and READY, announcing the new state. Ignored while an
 * Improv attempt is pending. */
void sc_console_set_wifi_connected(sc_console *c, bool connected);

uint8_t sc_console_state(const sc_console *c);
const sc_config *sc_console_config(const sc_console *c);

/* Zeroize the console (configuration, buffers, pending credentials). */
void sc_console_wipe(sc_console *c);

#ifdef __cplusplus
}
#endif

#endif
