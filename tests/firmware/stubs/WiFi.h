/* STUB of Arduino-ESP32 libraries/WiFi (WiFi.h, WiFiGeneric.h, WiFiSTA.h, WiFiScan.h,
 * WiFiType.h) (see README.md): not the SDK. Kept: the class structure with its using
 * declarations (SSID()/SSID(i), RSSI()/RSSI(i)) and the begin() overloads, so that overload
 * resolution is checked as on the device. */
#pragma once
#include "Arduino.h"
#include "WiFiClient.h"

#include "esp_wifi_types.h" /* the real one: wifi_mode_t, wifi_auth_mode_t (WiFiType.h includes it) */

/* WiFiType.h */
#define WIFI_SCAN_RUNNING (-1)
#define WIFI_SCAN_FAILED (-2)
#define WIFI_OFF WIFI_MODE_NULL
#define WIFI_STA WIFI_MODE_STA
#define WIFI_AP WIFI_MODE_AP
typedef enum {
    WL_NO_SHIELD = 255,
    WL_IDLE_STATUS = 0,
    WL_NO_SSID_AVAIL = 1,
    WL_SCAN_COMPLETED = 2,
    WL_CONNECTED = 3,
    WL_CONNECT_FAILED = 4,
    WL_CONNECTION_LOST = 5,
    WL_DISCONNECTED = 6
} wl_status_t;

/* WiFiGeneric.h */
typedef enum {
    WIFI_POWER_19_5dBm = 78,
    WIFI_POWER_19dBm = 76,
    WIFI_POWER_18_5dBm = 74,
    WIFI_POWER_17dBm = 68,
    WIFI_POWER_15dBm = 60,
    WIFI_POWER_13dBm = 52,
    WIFI_POWER_11dBm = 44,
    WIFI_POWER_8_5dBm = 34,
    WIFI_POWER_7dBm = 28,
    WIFI_POWER_5dBm = 20,
    WIFI_POWER_2dBm = 8,
    WIFI_POWER_MINUS_1dBm = -4
} wifi_power_t;

typedef enum { WPA2_AUTH_TLS = 0, WPA2_AUTH_PEAP = 1, WPA2_AUTH_TTLS = 2 } wpa2_auth_method_t;

class WiFiGenericClass {
public:
    void persistent(bool persistent);
    static bool mode(wifi_mode_t);
    static wifi_mode_t getMode();
    bool setSleep(bool enabled);
    bool setTxPower(wifi_power_t power);
    wifi_power_t getTxPower();
    bool getSleep();
};

class WiFiSTAClass {
public:
    wl_status_t begin(const char *wpa2_ssid, wpa2_auth_method_t method,
                      const char *wpa2_identity = NULL, const char *wpa2_username = NULL,
                      const char *wpa2_password = NULL, const char *ca_pem = NULL,
                      const char *client_crt = NULL, const char *client_key = NULL,
                      int32_t channel = 0, const uint8_t *bssid = 0, bool connect = true);
    wl_status_t begin(const char *ssid, const char *passphrase = NULL, int32_t channel = 0,
                      const uint8_t *bssid = NULL, bool connect = true);
    wl_status_t begin(const String &ssid, const String &passphrase = (const char *)NULL,
                      int32_t channel = 0, const uint8_t *bssid = NULL, bool connect = true);
    wl_status_t begin(char *ssid, char *passphrase = NULL, int32_t channel = 0,
                      const uint8_t *bssid = NULL, bool connect = true);
    wl_status_t begin();
    bool reconnect();
    bool disconnect(bool wifioff = false, bool eraseap = false);
    bool isConnected();
    bool setAutoReconnect(bool autoReconnect);
    bool getAutoReconnect();
    IPAddress localIP();
    static wl_status_t status();
    String SSID() const;
    int8_t RSSI();
};

class WiFiScanClass {
public:
    int16_t scanNetworks(bool async = false, bool show_hidden = false, bool passive = false,
                         uint32_t max_ms_per_chan = 300, uint8_t channel = 0,
                         const char *ssid = nullptr, const uint8_t *bssid = nullptr);
    int16_t scanComplete();
    void scanDelete();
    String SSID(uint8_t networkItem);
    wifi_auth_mode_t encryptionType(uint8_t networkItem);
    int32_t RSSI(uint8_t networkItem);
    int32_t channel(uint8_t networkItem);
};

class WiFiClass : public WiFiGenericClass, public WiFiSTAClass, public WiFiScanClass {
public:
    using WiFiSTAClass::RSSI;
    using WiFiScanClass::RSSI;
    using WiFiSTAClass::SSID;
    using WiFiScanClass::SSID;
    using WiFiScanClass::channel;
};
extern WiFiClass WiFi;
