/* WifiLink on the host (wifi_link.h): the station link is up once a network is set; the radio
 * itself cannot exist here. Only what the stream needs is modelled. */
#include "wifi_link.h"

#include <string.h>

void WifiLink::begin()
{
}

void WifiLink::set_network(const char *ssid, const char *password)
{
    (void)password;
    state_ = ssid[0] != '\0' ? State::Connected : State::Off;
}

void WifiLink::loop(uint64_t now_us)
{
    (void)now_us;
}

bool WifiLink::uses(const char *ssid, const char *password) const
{
    (void)ssid;
    (void)password;
    return state_ != State::Off;
}

int8_t WifiLink::rssi() const
{
    return connected() ? -58 : 0;
}
