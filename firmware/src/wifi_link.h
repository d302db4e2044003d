/* The station link: join the stored network, retry with jittered exponential back-off and
 * rejoin forever after a loss; Improv connection attempts with other credentials; scans for
 * the console. Non-blocking except scan() (at most 2.4 s) and a 100 ms pause when it drops
 * an association to start another. Wi-Fi modem sleep is off: it adds
 * up to a beacon interval (~100 ms) to every packet the camera receives, pings included.
 *
 * Transmit power: SECURECAM_WIFI_TX_POWER (a wifi_power_t, e.g. -DSECURECAM_WIFI_TX_POWER=
 * WIFI_POWER_15dBm in platformio.ini's build_flags). Each step down lowers the current peaks
 * of transmission, which is what resets a board on a weak 5 V supply (brownout), at the cost
 * of range. */
#ifndef SECURECAM_WIFI_LINK_H
#define SECURECAM_WIFI_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "securecam/sc_config.h"
#include "securecam/sc_console.h"

class WifiLink {
public:
    /* Station mode, radio on, at the configured transmit power. Credentials are kept out of
     * the Wi-Fi driver's own NVS: ours are in the "securecam" namespace. */
    void begin();

    /* The stored network (ssid "" = none). Reconnects only when it differs from the network
     * in use, so adopting the credentials an Improv attempt just proved costs nothing. */
    void set_network(const char *ssid, const char *password);

    void loop(uint64_t now_us);

    bool connected() const { return state_ == State::Connected; }

    /* True while no association attempt (scan, authentication, DHCP) is under way: the radio
     * only keeps the link, so starting the camera now does not stack its current peak on
     * the radio's. */
    bool quiet() const { return state_ != State::Connecting; }

    /* True when these are the credentials of the network in use (or being joined). */
    bool uses(const char *ssid, const char *password) const;
    int8_t rssi() const;

    /* Improv "send Wi-Fi settings": try these credentials now (up to 20 s). False while
     * another attempt runs. The result comes from take_attempt_result; on failure the link
     * returns to the stored network. */
    bool start_attempt(const char *ssid, const char *password);
    bool take_attempt_result(bool *connected);

    /* Connectivity changes since the last call (for logs and Improv state pushes). */
    bool take_change(bool *up);

    /* A blocking scan of at most 2.4 s (120 ms per channel: about 1.6 s): unique SSIDs,
     * strongest first, hidden ones left out. */
    size_t scan(sc_wifi_network *out, size_t max);

private:
    enum class State : uint8_t { Off, Waiting, Connecting, Connected };

    void connect(const char *ssid, const char *password, uint64_t now_us, uint32_t timeout_ms);
    void failed(uint64_t now_us);

    State state_ = State::Off;
    backoff backoff_{};
    char ssid_[SC_CONFIG_SSID_MAX + 1] = {};      /* the stored network */
    char pass_[SC_CONFIG_PASS_MAX + 1] = {};
    char try_ssid_[SC_CONFIG_SSID_MAX + 1] = {};  /* an Improv attempt's */
    char try_pass_[SC_CONFIG_PASS_MAX + 1] = {};
    bool attempt_ = false;
    bool attempt_done_ = false;
    bool attempt_ok_ = false;
    bool change_ = false;
    bool change_up_ = false;
    uint64_t started_us_ = 0;
    uint64_t deadline_us_ = 0;
    uint64_t retry_at_us_ = 0;
};

#endif
