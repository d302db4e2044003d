/* Wi-Fi station link (wifi_link.h). */
#include "wifi_link.h"

#include <Arduino.h>
#include <WiFi.h>
#include <esp_wifi.h>
#include <string.h>

#include "board_compat.h"
#include "board_log.h"

static const uint32_t kConnectTimeoutMs = 20000;
static const uint32_t kBackoffFirstMs = 1000;
static const uint32_t kBackoffMaxMs = 30000;
/* Right after begin() the status can still show the previous attempt's failure. */
static const uint64_t kFailureGraceUs = 2000000;
static const uint32_t kScanMsPerChannel = 120;
/* Arduino-ESP32 2.x gives an asynchronous scan up to 20 x the time per channel, then reports
 * WIFI_SCAN_FAILED and leaves the driver scanning; the same limit here covers 3.x. */
static const uint64_t kScanLimitUs = 20u * kScanMsPerChannel * 1000u;

#ifndef SECURECAM_WIFI_TX_POWER
#define SECURECAM_WIFI_TX_POWER WIFI_POWER_19_5dBm /* the driver's default, full range */
#endif

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src != nullptr ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void wipe(void *p, size_t n)
{
    volatile uint8_t *b = static_cast<volatile uint8_t *>(p);
    while (n-- > 0) {
        *b++ = 0;
    }
}

void WifiLink::begin()
{
    backoff_init(&backoff_, kBackoffFirstMs, kBackoffMaxMs);
    WiFi.persistent(false);        /* never copy credentials into the driver's NVS */
    WiFi.mode(WIFI_STA);           /* starts the radio */
    WiFi.setAutoReconnect(false);  /* this class decides when to retry */
    WiFi.setSleep(false);          /* no modem sleep: latency over power */
    if (!WiFi.setTxPower(SECURECAM_WIFI_TX_POWER)) {
        board_log("wifi: could not set the transmit power");
    }
    board_log("wifi: transmit power %d.%d dBm", static_cast<int>(SECURECAM_WIFI_TX_POWER) / 4,
              static_cast<int>(SECURECAM_WIFI_TX_POWER) % 4 * 25);
}

void WifiLink::set_network(const char *ssid, const char *password)
{
    bool same = strcmp(ssid, ssid_) == 0 && strcmp(password, pass_) == 0;
    copy_text(ssid_, sizeof ssid_, ssid);
    copy_text(pass_, sizeof pass_, password);
    if (attempt_ || (same && state_ != State::Off)) {
        return; /* an Improv attempt finishes first; or nothing changed */
    }
    if (ssid_[0] == '\0') {
        if (state_ != State::Off) {
            WiFi.disconnect(false, false);
            if (state_ == State::Connected) {
                change_ = true;
                change_up_ = false;
            }
        }
        state_ = State::Off;
        return;
    }
    backoff_reset(&backoff_);
    connect(ssid_, pass_, board_now_us(), kConnectTimeoutMs);
}

void WifiLink::connect(const char *ssid, const char *password, uint64_t now_us,
                       uint32_t timeout_ms)
{
    if (state_ == State::Connected) {
        change_ = true;
        change_up_ = false;
    }
    if (state_ == State::Connected || state_ == State::Connecting) {
        WiFi.disconnect(false, false);
        delay(100); /* let the disconnect event pass before the next begin() */
    }
    char shown[SC_CONFIG_SSID_MAX + 1];
    board_log_text(shown, sizeof shown, ssid);
    board_log("wifi: joining \"%s\"", shown);
    WiFi.begin(ssid, password[0] != '\0' ? password : nullptr);
    state_ = State::Connecting;
    started_us_ = now_us;
    deadline_us_ = now_us + static_cast<uint64_t>(timeout_ms) * 1000u;
}

void WifiLink::failed(uint64_t now_us)
{
    WiFi.disconnect(false, false);
    if (attempt_) {
        attempt_ = false;
        attempt_done_ = true;
        attempt_ok_ = false;
        wipe(try_pass_, sizeof try_pass_);
        board_log("wifi: the new network could not be joined; back to the stored one");
        retry_at_us_ = now_us; /* straight back to the stored network */
    } else {
        uint32_t wait = backoff_next(&backoff_, esp_random());
        board_log("wifi: not connected; retrying in %lu ms", static_cast<unsigned long>(wait));
        retry_at_us_ = now_us + static_cast<uint64_t>(wait) * 1000u;
    }
    state_ = ssid_[0] != '\0' ? State::Waiting : State::Off;
}

void WifiLink::loop(uint64_t now_us)
{
    wl_status_t status = WiFi.status();
    switch (state_) {
    case State::Off:
        break;
    case State::Waiting:
        if (now_us >= retry_at_us_) {
            connect(ssid_, pass_, now_us, kConnectTimeoutMs);
        }
        break;
    case State::Connecting: {
        bool refused = status == WL_CONNECT_FAILED || status == WL_NO_SSID_AVAIL;
        if (status == WL_CONNECTED) {
            state_ = State::Connected;
            change_ = true;
            change_up_ = true;
            backoff_reset(&backoff_);
            if (attempt_) {
                /* Proven credentials become the network in use; the console stores them
                 * and hands them back through set_network, which then changes nothing. */
                copy_text(ssid_, sizeof ssid_, try_ssid_);
                copy_text(pass_, sizeof pass_, try_pass_);
                wipe(try_pass_, sizeof try_pass_);
                attempt_ = false;
                attempt_done_ = true;
                attempt_ok_ = true;
            }
            IPAddress ip = WiFi.localIP();
            board_log("wifi: connected, %u.%u.%u.%u, %d dBm", ip[0], ip[1], ip[2], ip[3],
                      static_cast<int>(WiFi.RSSI()));
        } else if (now_us >= deadline_us_ ||
                   (refused && now_us - started_us_ >= kFailureGraceUs)) {
            failed(now_us);
        }
        break;
    }
    case State::Connected:
        if (status != WL_CONNECTED) {
            board_log("wifi: connection lost");
            change_ = true;
            change_up_ = false;
            state_ = State::Waiting;
            retry_at_us_ = now_us + static_cast<uint64_t>(backoff_next(&backoff_, esp_random())) *
                                        1000u;
        }
        break;
    }
}

bool WifiLink::uses(const char *ssid, const char *password) const
{
    return state_ != State::Off && strcmp(ssid, ssid_) == 0 && strcmp(password, pass_) == 0;
}

int8_t WifiLink::rssi() const
{
    return connected() ? WiFi.RSSI() : 0;
}

bool WifiLink::start_attempt(const char *ssid, const char *password)
{
    if (attempt_) {
        return false;
    }
    copy_text(try_ssid_, sizeof try_ssid_, ssid);
    copy_text(try_pass_, sizeof try_pass_, password);
    attempt_ = true;
    attempt_done_ = false;
    connect(try_ssid_, try_pass_, board_now_us(),
            kConnectTimeoutMs);
    return true;
}

bool WifiLink::take_attempt_result(bool *ok)
{
    if (!attempt_done_) {
        return false;
    }
    attempt_done_ = false;
    *ok = attempt_ok_;
    return true;
}

bool WifiLink::take_change(bool *up)
{
    if (!change_) {
        return false;
    }
    change_ = false;
    *up = change_up_;
    return true;
}

size_t WifiLink::scan(sc_wifi_network *out, size_t max)
{
    if (state_ == State::Connecting && !attempt_) {
        /* The driver cannot scan while it is joining: pause the attempt, resume after. */
        WiFi.disconnect(false, false);
        delay(100);
        state_ = State::Waiting;
        retry_at_us_ = 0;
    }
    /* Asynchronous, polled here with a limit: the synchronous call waits up to 10 s. */
    (void)WiFi.scanNetworks(true, false, false, kScanMsPerChannel);
    uint64_t until = board_now_us() + kScanLimitUs;
    int16_t found;
    while ((found = WiFi.scanComplete()) == WIFI_SCAN_RUNNING && board_now_us() < until) {
        delay(10);
    }
    if (found < 0) {
        /* Still running at the limit, or given up by Arduino with the driver still scanning:
         * stop the driver, or the next scan could not start. */
        (void)esp_wifi_scan_stop();
        board_log("wifi: the scan did not finish in %u ms; stopped it",
                  static_cast<unsigned>(kScanLimitUs / 1000u));
        found = 0;
    }
    size_t n = 0;
    for (int16_t i = 0; i < found; i++) {
        String ssid = WiFi.SSID(static_cast<uint8_t>(i));
        size_t len = ssid.length();
        if (len == 0 || len > SC_CONFIG_SSID_MAX) {
            continue; /* hidden network */
        }
        int32_t rssi = WiFi.RSSI(static_cast<uint8_t>(i));
        int8_t r = static_cast<int8_t>(rssi < -128 ? -128 : rssi > 127 ? 127 : rssi);
        bool secured = WiFi.encryptionType(static_cast<uint8_t>(i)) != WIFI_AUTH_OPEN;
        size_t at = n;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(out[k].ssid, ssid.c_str()) == 0) {
                at = k; /* the same network seen from another access point */
                break;
            }
        }
        if (at < n) {
            if (r > out[at].rssi) {
                out[at].rssi = r;
                out[at].secured = secured;
            }
            continue;
        }
        if (n == max) {
            /* Full: replace the weakest if this one is stronger. */
            size_t weakest = 0;
            for (size_t k = 1; k < n; k++) {
                if (out[k].rssi < out[weakest].rssi) {
                    weakest = k;
                }
            }
            if (n == 0 || r <= out[weakest].rssi) {
                continue;
            }
            at = weakest;
        } else {
            n++;
        }
        memset(out[at].ssid, 0, sizeof out[at].ssid);
        memcpy(out[at].ssid, ssid.c_str(), len);
        out[at].rssi = r;
        out[at].secured = secured;
    }
    WiFi.scanDelete();
    /* Strongest first (insertion sort: at most 16 entries). */
    for (size_t i = 1; i < n; i++) {
        sc_wifi_network item = out[i];
        size_t k = i;
        while (k > 0 && out[k - 1].rssi < item.rssi) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = item;
    }
    board_log("wifi: scan found %u networks", static_cast<unsigned>(n));
    return n;
}
