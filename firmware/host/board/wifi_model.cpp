/* Arduino-ESP32's WiFi on the host (WiFi.h), so the board's real wifi_link.cpp runs here. The
 * radio cannot exist on this machine; the model keeps what the board depends on: begin()
 * returns at once and the status turns WL_CONNECTED after an association time (or
 * WL_CONNECT_FAILED when the network refuses), the link can be lost, an asynchronous scan takes
 * max_ms_per_chan (times scan_slowdown) on each of 13 channels, and Arduino-ESP32 2.x gives up
 * on it after 20 x max_ms_per_chan (WIFI_SCAN_FAILED) while the driver goes on scanning until
 * esp_wifi_scan_stop(). Also String and IPAddress, which its API returns. */
#include <Arduino.h>
#include <WiFi.h>
#include <esp_wifi.h>

#include <string.h>

#include "board_compat.h"
#include "host_model.h"

WifiParams g_wifi_params;
WiFiClass WiFi;

namespace {

struct Radio {
    wl_status_t status = WL_IDLE_STATUS;
    uint64_t joined_at_us = 0; /* 0: no association under way */
    uint64_t scan_done_at_us = 0;
    uint64_t scan_given_up_at_us = 0; /* Arduino's _scanTimeout: 20 x the time per channel */
    bool scanning = false; /* the driver scans */
    bool scanned = false;
};

Radio r;

struct Seen {
    const char *ssid;
    int32_t rssi;
    wifi_auth_mode_t auth;
};
const Seen kNetworks[] = {{"host-model", -58, WIFI_AUTH_WPA2_PSK},
                          {"neighbour", -81, WIFI_AUTH_WPA2_PSK},
                          {"cafe", -74, WIFI_AUTH_OPEN}};
const int16_t kNetworkCount = 3;

void advance()
{
    if (r.joined_at_us != 0 && board_now_us() >= r.joined_at_us) {
        r.joined_at_us = 0;
        r.status = g_wifi_params.refuse ? WL_CONNECT_FAILED : WL_CONNECTED;
    }
    if (r.scanning && board_now_us() >= r.scan_done_at_us) {
        r.scanning = false;
        r.scanned = true;
    }
}

} // namespace

void model_wifi_lose()
{
    if (r.status == WL_CONNECTED) {
        r.status = WL_CONNECTION_LOST;
    }
}

/* ---- WiFi ---------------------------------------------------------------------------- */

void WiFiGenericClass::persistent(bool persistent)
{
    (void)persistent;
}

bool WiFiGenericClass::mode(wifi_mode_t mode)
{
    (void)mode;
    return true;
}

bool WiFiGenericClass::setSleep(bool enabled)
{
    (void)enabled;
    return true;
}

bool WiFiGenericClass::setTxPower(wifi_power_t power)
{
    g_stats.tx_power = static_cast<int>(power);
    return true;
}

wl_status_t WiFiSTAClass::begin(const char *ssid, const char *passphrase, int32_t channel,
                                const uint8_t *bssid, bool connect)
{
    (void)ssid;
    (void)passphrase;
    (void)channel;
    (void)bssid;
    (void)connect;
    r.status = WL_DISCONNECTED;
    r.joined_at_us = board_now_us() + g_wifi_params.join_us;
    return r.status;
}

bool WiFiSTAClass::disconnect(bool wifioff, bool eraseap)
{
    (void)wifioff;
    (void)eraseap;
    r.status = WL_DISCONNECTED;
    r.joined_at_us = 0;
    return true;
}

bool WiFiSTAClass::setAutoReconnect(bool autoReconnect)
{
    (void)autoReconnect;
    return true;
}

IPAddress WiFiSTAClass::localIP()
{
    return IPAddress(192, 168, 4, 23);
}

wl_status_t WiFiSTAClass::status()
{
    advance();
    return r.status;
}

int8_t WiFiSTAClass::RSSI()
{
    return r.status == WL_CONNECTED ? -58 : 0;
}

int16_t WiFiScanClass::scanNetworks(bool async, bool show_hidden, bool passive,
                                    uint32_t max_ms_per_chan, uint8_t channel, const char *ssid,
                                    const uint8_t *bssid)
{
    (void)show_hidden;
    (void)passive;
    (void)channel;
    (void)ssid;
    (void)bssid;
    advance();
    if (r.scanning) {
        return WIFI_SCAN_FAILED; /* esp_wifi_scan_start refuses while the driver scans */
    }
    r.scanning = true;
    r.scanned = false;
    uint64_t now = board_now_us();
    r.scan_done_at_us =
        now + static_cast<uint64_t>(13.0 * max_ms_per_chan * 1000.0 * g_wifi_params.scan_slowdown);
    r.scan_given_up_at_us = now + 20u * max_ms_per_chan * 1000u;
    if (!async) {
        while (r.scanning) {
            delay(10);
            advance();
        }
        return kNetworkCount;
    }
    return WIFI_SCAN_RUNNING;
}

int16_t WiFiScanClass::scanComplete()
{
    advance();
    if (r.scanning) {
        return board_now_us() >= r.scan_given_up_at_us ? WIFI_SCAN_FAILED : WIFI_SCAN_RUNNING;
    }
    return r.scanned ? kNetworkCount : WIFI_SCAN_FAILED;
}

void WiFiScanClass::scanDelete()
{
    r.scanned = false;
}

String WiFiScanClass::SSID(uint8_t i)
{
    return String(i < kNetworkCount ? kNetworks[i].ssid : "");
}

wifi_auth_mode_t WiFiScanClass::encryptionType(uint8_t i)
{
    return i < kNetworkCount ? kNetworks[i].auth : WIFI_AUTH_OPEN;
}

int32_t WiFiScanClass::RSSI(uint8_t i)
{
    return i < kNetworkCount ? kNetworks[i].rssi : 0;
}

esp_err_t esp_wifi_scan_stop(void)
{
    r.scanning = false;
    g_stats.scan_stops++;
    return ESP_OK;
}

/* ---- String and IPAddress ---------------------------------------------------------- */

String::String(const char *cstr)
{
    buffer_ = strdup(cstr != nullptr ? cstr : "");
}

String::String(const String &str)
{
    buffer_ = strdup(str.buffer_);
}

String::~String()
{
    free(buffer_);
}

String &String::operator=(const String &rhs)
{
    if (this != &rhs) {
        free(buffer_);
        buffer_ = strdup(rhs.buffer_);
    }
    return *this;
}

unsigned int String::length(void) const
{
    return static_cast<unsigned int>(strlen(buffer_));
}

const char *String::c_str() const
{
    return buffer_;
}

IPAddress::IPAddress(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    address_[0] = a;
    address_[1] = b;
    address_[2] = c;
    address_[3] = d;
}

uint8_t IPAddress::operator[](int index) const
{
    return address_[index];
}

uint8_t &IPAddress::operator[](int index)
{
    return address_[index];
}
