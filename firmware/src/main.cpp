/* SecureCam firmware for the AI-Thinker ESP32-CAM: the Arduino entry points.
 *
 * Thin board glue around the portable core (lib/securecam_core): the provisioning console
 * (Improv + SecureCam extension on UART0) starts first so a camera without configuration can
 * always be provisioned; then the configuration from NVS, Wi-Fi, the camera, and the stream
 * to the app. Everything runs on the Arduino loop task, which the task watchdog watches.
 *
 * Start-up is staged so that the two large current draws never overlap (start_stage.h): the
 * radio starts first (its RF calibration), then association; the camera only while no
 * association is under way. The brownout detector stays on.
 *
 * Nothing in loop() waits on the network or the sensor (net_link.h, camera_board.h); the
 * longest blocking step is a Wi-Fi scan the console asked for (at most 2.4 s).
 */
#include <Arduino.h>
#include <esp_heap_caps.h>
#include <esp_task_wdt.h>
#include <freertos/FreeRTOS.h>
#include <freertos/task.h>
#include <sdkconfig.h>
#include <string.h>

#include "board_compat.h"
#include "board_health.h"
#include "board_log.h"
#include "camera_board.h"
#include "firmware_info.h"
#include "nvs_store.h"
#include "securecam/sc_config.h"
#include "securecam/sc_console.h"
#include "securecam/sc_protocol.h"
#include "start_stage.h"
#include "stream.h"
#include "wifi_link.h"

static const unsigned long kSerialBaud = 115200;
/* A whole Improv packet (265 bytes) several times over: the loop can be busy for a moment
 * (a chunk being sent, a blocking scan) while a client writes. */
static const size_t kSerialRxBuffer = 1024;
static const uint64_t kConsoleIdleUs = 100000; /* PROVISIONING.md 2: ~100 ms of silence */
static const uint32_t kWatchdogTimeoutS = 30;  /* far longer than any blocking step (2.4 s) */
static const uint64_t kCameraRetryUs = 10000000;
/* The loop task carries X25519 (mbedTLS MPI), AES-GCM and lwIP calls: twice Arduino's
 * 8192 bytes. Its high-water mark is logged and sent in STATUS (stack_min_free). */
static const size_t kLoopStackBytes = 16384;
static const uint64_t kStackReportUs = 1000000;
static const uint32_t kStackReportStep = 256; /* log again when it falls by this much */

SET_LOOP_TASK_STACK_SIZE(kLoopStackBytes);

static NvsStore g_nvs;
static sc_config_store g_store;
static sc_console g_console; /* owns the configuration; large, so not on a stack */
static sc_config g_active;   /* the configuration the board currently runs with */
static WifiLink g_wifi;
static CameraBoard g_camera;
static StreamClient g_stream;

static bool g_reboot = false;
static bool g_idle_armed = false;
static uint64_t g_last_rx_us = 0;
static uint64_t g_camera_retry_us = 0;
static StartStage g_start_stage;
static bool g_led_on = false;
static uint64_t g_stack_check_us = 0;
static uint32_t g_stack_logged = UINT32_MAX;

bool board_stack_min_free(uint32_t *bytes)
{
    *bytes = static_cast<uint32_t>(uxTaskGetStackHighWaterMark(nullptr)); /* bytes on ESP-IDF */
    return true;
}

static void report_stack(uint64_t now_us)
{
    if (now_us < g_stack_check_us) {
        return;
    }
    g_stack_check_us = now_us + kStackReportUs;
    uint32_t free_bytes = 0;
    (void)board_stack_min_free(&free_bytes);
    if (g_stack_logged == UINT32_MAX || free_bytes + kStackReportStep <= g_stack_logged) {
        g_stack_logged = free_bytes;
        board_log("stack: %lu of %u bytes never used (loop task)",
                  static_cast<unsigned long>(free_bytes), static_cast<unsigned>(kLoopStackBytes));
    }
}

/* ---- task watchdog ------------------------------------------------------------------ */

static void watchdog_begin()
{
#if ESP_IDF_VERSION_MAJOR >= 5
    /* ESP-IDF 5 (Arduino-ESP32 3.x): a config struct; the TWDT already runs, so reconfigure
     * it (init would answer ESP_ERR_INVALID_STATE), keeping the idle tasks sdkconfig chose. */
    esp_task_wdt_config_t config;
    memset(&config, 0, sizeof config);
    config.timeout_ms = kWatchdogTimeoutS * 1000u;
    config.idle_core_mask = 0;
#ifdef CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0
    config.idle_core_mask |= 1u << 0;
#endif
#ifdef CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU1
    config.idle_core_mask |= 1u << 1;
#endif
    config.trigger_panic = true;
    esp_err_t err = esp_task_wdt_reconfigure(&config);
    if (err == ESP_ERR_INVALID_STATE) {
        err = esp_task_wdt_init(&config);
    }
#else
    /* ESP-IDF 4.4 (Arduino-ESP32 2.x): timeout in seconds and panic; when the TWDT already
     * runs this updates both. */
    esp_err_t err = esp_task_wdt_init(kWatchdogTimeoutS, true);
#endif
    if (err != ESP_OK) {
        board_log("watchdog: configuration failed (0x%x)", static_cast<unsigned>(err));
    }
    err = esp_task_wdt_add(nullptr); /* the loop task, which runs setup() too */
    if (err != ESP_OK && err != ESP_ERR_INVALID_ARG) { /* INVALID_ARG: already watched */
        board_log("watchdog: cannot watch the loop task (0x%x)", static_cast<unsigned>(err));
    }
}

/* ---- the provisioning console's platform callbacks --------------------------------- */

static void console_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    Serial.write(data, len);
}

static size_t console_scan(void *ctx, sc_wifi_network *out, size_t max)
{
    (void)ctx;
    esp_task_wdt_reset();
    size_t n = g_wifi.scan(out, max);
    esp_task_wdt_reset();
    return n;
}

static sc_wifi_attempt console_connect(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    /* The link is about to change under the session: say goodbye properly first. */
    g_stream.stop(SC_CLOSE_GOING_AWAY, "changing Wi-Fi network");
    esp_task_wdt_reset();
    return g_wifi.start_attempt(ssid, password) ? SC_WIFI_PENDING : SC_WIFI_FAILED;
}

static void console_reboot(void *ctx)
{
    (void)ctx;
    g_reboot = true; /* restart from loop(), once the OK answer has drained */
}

static void service_console(uint64_t now_us)
{
    uint8_t buf[64];
    size_t budget = 512;
    while (budget > 0 && Serial.available() > 0) {
        size_t n = 0;
        while (n < sizeof buf && Serial.available() > 0) {
            int c = Serial.read();
            if (c < 0) {
                break;
            }
            buf[n++] = static_cast<uint8_t>(c);
        }
        if (n == 0) {
            break;
        }
        sc_console_feed(&g_console, buf, n);
        memset(buf, 0, sizeof buf); /* it may have held a password or the key */
        budget = n < budget ? budget - n : 0;
        g_last_rx_us = now_us;
        g_idle_armed = true;
        if (g_reboot) {
            return;
        }
    }
    if (g_idle_armed && now_us - g_last_rx_us >= kConsoleIdleUs) {
        g_idle_armed = false;
        sc_console_idle(&g_console);
    }
}

/* ---- configuration ------------------------------------------------------------------ */

static bool wifi_differs(const sc_config &a, const sc_config &b)
{
    return strcmp(a.wifi_ssid, b.wifi_ssid) != 0 || strcmp(a.wifi_pass, b.wifi_pass) != 0;
}

static bool target_differs(const sc_config &a, const sc_config &b)
{
    return strcmp(a.server_host, b.server_host) != 0 || a.server_port != b.server_port ||
           strcmp(a.device_name, b.device_name) != 0 || a.has_key != b.has_key ||
           memcmp(a.key, b.key, sizeof a.key) != 0;
}

static bool camera_differs(const sc_config &a, const sc_config &b)
{
    return a.frame_size != b.frame_size || a.jpeg_quality != b.jpeg_quality ||
           a.fps_cap != b.fps_cap;
}

static void log_config(const sc_config &cfg)
{
    char ssid[SC_CONFIG_SSID_MAX + 1];
    char fp[SC_CONFIG_FINGERPRINT_SIZE] = "";
    board_log_text(ssid, sizeof ssid, cfg.wifi_ssid);
    if (cfg.has_key && !sc_config_key_fingerprint(cfg.key, fp)) {
        fp[0] = '\0';
    }
    /* The fingerprint is safe to show (PROVISIONING.md 8); the key and password never are. */
    board_log("config: wifi \"%s\", server %s:%u, name \"%s\", key %s, frame size %u, "
              "quality %u, fps cap %u%s",
              ssid, cfg.server_host, static_cast<unsigned>(cfg.server_port), cfg.device_name,
              cfg.has_key ? fp : "(none)", static_cast<unsigned>(cfg.frame_size),
              static_cast<unsigned>(cfg.jpeg_quality), static_cast<unsigned>(cfg.fps_cap),
              sc_config_is_complete(&cfg) ? "" : " (incomplete: provision over USB serial)");
}

/* Follow the console: SET_CONFIG, ERASE_CONFIG, device name and Wi-Fi changes are stored by
 * the core first, then picked up here. */
static void sync_config()
{
    const sc_config *cfg = sc_console_config(&g_console);
    bool wifi = wifi_differs(*cfg, g_active);
    bool target = target_differs(*cfg, g_active);
    bool camera = camera_differs(*cfg, g_active);
    if (!wifi && !target && !camera) {
        return;
    }
    sc_config_wipe(&g_active);
    g_active = *cfg;
    log_config(g_active);
    if (camera) {
        g_stream.set_defaults(g_active.frame_size, g_active.jpeg_quality, g_active.fps_cap);
    }
    if (target) {
        g_stream.set_target(g_active); /* closes a live session (1000), reconnects at once */
    }
    if (wifi) {
        if (!g_wifi.uses(g_active.wifi_ssid, g_active.wifi_pass)) {
            /* Say goodbye while the old network still carries it. An Improv attempt that
             * just succeeded is already the network in use: nothing to do then. */
            g_stream.stop(SC_CLOSE_GOING_AWAY, "changing Wi-Fi network");
        }
        g_wifi.set_network(g_active.wifi_ssid, g_active.wifi_pass);
    }
}

/* ---- start-up ----------------------------------------------------------------------- */

static void start_camera()
{
    esp_task_wdt_reset();
    if (!g_camera.begin(g_active.frame_size, g_active.jpeg_quality)) {
        g_camera_retry_us = board_now_us() + kCameraRetryUs;
    }
    esp_task_wdt_reset();
}

static void maybe_start_camera(uint64_t now_us)
{
    if (g_start_stage.camera_may_start(g_wifi, now_us) && !g_camera.ready() &&
        now_us >= g_camera_retry_us) {
        start_camera();
    }
}

static void reboot()
{
    Serial.flush(); /* the REBOOT command's OK first */
    g_stream.stop(SC_CLOSE_GOING_AWAY, "camera rebooting");
    board_log("rebooting");
    Serial.flush();
    delay(50);
    ESP.restart();
}

void setup()
{
    /* The flash LED's pin floats otherwise and GPIO 4 is bright: off before anything else. */
    pinMode(BOARD_FLASH_LED_PIN, OUTPUT);
    digitalWrite(BOARD_FLASH_LED_PIN, LOW);
    pinMode(BOARD_STATUS_LED_PIN, OUTPUT);
    digitalWrite(BOARD_STATUS_LED_PIN, HIGH); /* active low: off */

    Serial.setRxBufferSize(kSerialRxBuffer); /* before begin() */
    Serial.begin(kSerialBaud);
    watchdog_begin();
    board_log(SECURECAM_FIRMWARE_ID " on " SECURECAM_HARDWARE
                                    ": Improv serial provisioning on UART0, 115200 8N1");

    /* The console first: it loads the configuration and answers even when there is none. */
    if (!g_nvs.begin()) {
        board_log("nvs: namespace \"" SC_CONFIG_NVS_NAMESPACE "\" unavailable; nothing can be stored");
    }
    g_store = g_nvs.store();
    static const sc_console_info info = {SECURECAM_FIRMWARE_NAME, SECURECAM_FIRMWARE_VERSION,
                                         SECURECAM_HARDWARE};
    sc_console_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.ctx = nullptr;
    cb.write = &console_write;
    cb.wifi_scan = &console_scan;
    cb.wifi_connect = &console_connect;
    cb.reboot = &console_reboot;
    cb.store = &g_store;
    sc_config_status status = sc_console_init(&g_console, &cb, &info);
    if (status == SC_CONFIG_CORRUPT) {
        board_log("config: some stored values were invalid; those use their defaults");
    } else if (status == SC_CONFIG_STORE_FAILED) {
        board_log("config: NVS could not be read; running on defaults");
    }
    g_active = *sc_console_config(&g_console);
    log_config(g_active);

    /* The radio now; the camera from loop() once the radio is quiet (top of this file). */
    g_wifi.begin();
    g_wifi.set_network(g_active.wifi_ssid, g_active.wifi_pass);
    board_log("memory: %u bytes internal heap free, %u bytes PSRAM free",
              static_cast<unsigned>(heap_caps_get_free_size(MALLOC_CAP_INTERNAL)),
              static_cast<unsigned>(heap_caps_get_free_size(MALLOC_CAP_SPIRAM)));

    g_stream.begin(&g_camera, &g_wifi);
    g_stream.set_defaults(g_active.frame_size, g_active.jpeg_quality, g_active.fps_cap);
    g_stream.set_target(g_active);
}

void loop()
{
    esp_task_wdt_reset();
    uint64_t now = board_now_us();

    service_console(now);
    if (g_reboot) {
        reboot();
    }
    sync_config();

    g_wifi.loop(now);
    bool up = false;
    if (g_wifi.take_change(&up)) {
        sc_console_set_wifi_connected(&g_console, up); /* Improv state push: 04 / 02 */
    }
    bool joined = false;
    if (g_wifi.take_attempt_result(&joined)) {
        sc_console_wifi_result(&g_console, joined); /* stores the network on success */
        sync_config();
    }

    maybe_start_camera(board_now_us());
    report_stack(now);

    bool busy = g_stream.loop(board_now_us());

    bool led = g_stream.streaming();
    if (led != g_led_on) {
        g_led_on = led;
        digitalWrite(BOARD_STATUS_LED_PIN, led ? LOW : HIGH);
    }
    if (!busy) {
        delay(1); /* nothing to send: let the idle task and the network stack run */
    }
}
