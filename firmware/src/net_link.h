/* One TCP connection to the app that never blocks: the only network calls the board layer
 * makes. On the ESP32 it is lwIP's socket API (net_link.cpp); on the host a model of it with
 * the ESP32's limits stands behind the same class (firmware/host/board/net_model.cpp), so the
 * real WsClient and StreamClient run there against the real receiver.
 *
 * Why not WiFiClient: its write() waits in 1 s select()s, up to 10 times after every bit of
 * progress, so one call can hold the loop for many seconds; its connect(host) resolves names
 * for up to 16 + 15 s; and on Arduino-ESP32 2.x its connected() misses an orderly FIN (it
 * asks recv() for 0 bytes, which never reports one). Every call here returns at once. */
#ifndef SECURECAM_NET_LINK_H
#define SECURECAM_NET_LINK_H

#include <stddef.h>
#include <stdint.h>

class NetLink {
public:
    /* lwIP's TCP send buffer (CONFIG_LWIP_TCP_SND_BUF_DEFAULT: 5744 on Arduino-ESP32 2.x,
     * 5760 on 3.x): no single write offers more than this. */
    static const size_t kMaxWrite = 5744;
    /* A host name (not an IP address) must resolve within this. */
    static const uint32_t kResolveTimeoutMs = 5000;

    enum class State : uint8_t { Idle, Resolving, Connecting, Open, Failed };

    /* Start connecting to host:port (an IPv4 address, or a name resolved without blocking);
     * the connection must be up within timeout_ms. Any earlier connection is dropped. */
    void begin(const char *host, uint16_t port, uint32_t timeout_ms);

    /* Drive resolution and connection: Open once connected, Failed (why()) when it could
     * not be, and Failed later when the connection breaks. */
    State poll(uint64_t now_us);

    /* Hand up to len bytes (at most kMaxWrite) to the TCP send buffer: the number taken,
     * 0 when it is full; -1 when the connection failed (state Failed). */
    int write_some(const uint8_t *data, size_t len);

    /* Bytes received: > 0 read, 0 none waiting, kEnd after the peer's orderly FIN (all its
     * data read), -1 when the connection failed (reset or error). */
    static const int kEnd = -2;
    int read_some(uint8_t *buf, size_t cap);

    /* Orderly close (FIN after what is queued); then the link is Idle. */
    void close();
    /* Drop the connection now; then the link is Idle. A reset where lwIP has SO_LINGER
     * (CONFIG_LWIP_SO_LINGER); in Arduino's lwIP, which has not, a close whose queued bytes
     * and FIN lwIP still sends on its own. */
    void abort();

    State state() const { return state_; }
    const char *why() const { return why_; }

private:
    void fail(const char *why);

    State state_ = State::Idle;
    const char *why_ = "";
    int fd_ = -1;
    uint16_t port_ = 0;
    uint32_t addr_ = 0; /* IPv4, network order */
    uint64_t deadline_us_ = 0;
    uint32_t timeout_ms_ = 0;
    uint32_t resolve_id_ = 0;
};

#endif
