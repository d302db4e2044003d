/* NetLink on the ESP32: lwIP's BSD sockets, non-blocking (net_link.h). */
#include "net_link.h"

#include <errno.h>
#include <string.h>

#include <freertos/FreeRTOS.h>
#include <lwip/dns.h>
#include <lwip/ip_addr.h>
#include <lwip/sockets.h>
#include <lwip/tcpip.h>

#include "board_compat.h"
#include "securecam/sc_config.h"

namespace {

/* One name lookup at a time, shared with lwIP's thread: the loop writes the request and
 * posts it; lwIP's DNS answers through a callback. An answer to an abandoned request (an
 * older id) is ignored, so a lookup that outlives its timeout cannot touch a newer one. */
struct Lookup {
    char name[SC_CONFIG_HOST_MAX + 1];
    uint32_t id;      /* the request being resolved */
    uint32_t done_id; /* the request answered */
    uint32_t addr;    /* its IPv4 address, network order; 0: not found */
};

Lookup s_lookup;
portMUX_TYPE s_lookup_mux = portMUX_INITIALIZER_UNLOCKED;

void lookup_answer(uint32_t id, const ip_addr_t *ip)
{
    uint32_t addr = 0;
    if (ip != nullptr && IP_IS_V4(ip)) {
        addr = ip_2_ip4(ip)->addr;
    }
    portENTER_CRITICAL(&s_lookup_mux);
    if (id == s_lookup.id) {
        s_lookup.addr = addr;
        s_lookup.done_id = id;
    }
    portEXIT_CRITICAL(&s_lookup_mux);
}

void dns_found(const char *name, const ip_addr_t *ip, void *arg)
{
    (void)name;
    lookup_answer(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg)), ip);
}

/* Runs on lwIP's thread (tcpip_callback), where its DNS API must be called. */
void dns_start(void *arg)
{
    uint32_t id = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(arg));
    char name[sizeof s_lookup.name];
    portENTER_CRITICAL(&s_lookup_mux);
    bool current = id == s_lookup.id;
    memcpy(name, s_lookup.name, sizeof name);
    portEXIT_CRITICAL(&s_lookup_mux);
    if (!current) {
        return;
    }
    ip_addr_t ip;
    err_t err = dns_gethostbyname_addrtype(name, &ip, &dns_found, arg, LWIP_DNS_ADDRTYPE_IPV4);
    if (err == ERR_OK) {
        lookup_answer(id, &ip);
    } else if (err != ERR_INPROGRESS) {
        lookup_answer(id, nullptr);
    }
}

} // namespace

void NetLink::fail(const char *why)
{
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    state_ = State::Failed;
    why_ = why;
}

void NetLink::begin(const char *host, uint16_t port, uint32_t timeout_ms)
{
    abort();
    port_ = port;
    timeout_ms_ = timeout_ms;
    why_ = "";
    ip4_addr_t literal;
    if (ip4addr_aton(host, &literal)) {
        addr_ = literal.addr;
        deadline_us_ = 0;
        state_ = State::Connecting;
        return;
    }
    portENTER_CRITICAL(&s_lookup_mux);
    resolve_id_ = ++s_lookup.id;
    strncpy(s_lookup.name, host, sizeof s_lookup.name - 1);
    s_lookup.name[sizeof s_lookup.name - 1] = '\0';
    portEXIT_CRITICAL(&s_lookup_mux);
    /* tcpip_try_callback: never waits for room in lwIP's message box. */
    if (tcpip_try_callback(&dns_start,
                           reinterpret_cast<void *>(static_cast<uintptr_t>(resolve_id_))) != ERR_OK) {
        fail("name lookup could not start");
        return;
    }
    deadline_us_ = board_now_us() + static_cast<uint64_t>(kResolveTimeoutMs) * 1000u;
    state_ = State::Resolving;
}

NetLink::State NetLink::poll(uint64_t now_us)
{
    if (state_ == State::Resolving) {
        portENTER_CRITICAL(&s_lookup_mux);
        bool done = s_lookup.done_id == resolve_id_;
        uint32_t addr = s_lookup.addr;
        portEXIT_CRITICAL(&s_lookup_mux);
        if (!done) {
            if (now_us >= deadline_us_) {
                fail("name lookup timed out");
            }
            return state_;
        }
        if (addr == 0) {
            fail("name not found");
            return state_;
        }
        addr_ = addr;
        deadline_us_ = 0;
        state_ = State::Connecting;
    }
    if (state_ == State::Connecting && fd_ < 0) {
        fd_ = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        if (fd_ < 0) {
            fail("no socket available");
            return state_;
        }
        fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL, 0) | O_NONBLOCK);
        int one = 1;
        /* Every message is sent whole: no Nagle delay on small records. */
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in to;
        memset(&to, 0, sizeof to);
        to.sin_family = AF_INET;
        to.sin_port = htons(port_);
        to.sin_addr.s_addr = addr_;
        deadline_us_ = now_us + static_cast<uint64_t>(timeout_ms_) * 1000u;
        if (connect(fd_, reinterpret_cast<struct sockaddr *>(&to), sizeof to) == 0) {
            state_ = State::Open;
        } else if (errno != EINPROGRESS) {
            fail(errno == ECONNREFUSED ? "connection refused" : "connection failed");
        }
        return state_;
    }
    if (state_ == State::Connecting) {
        fd_set writable;
        FD_ZERO(&writable);
        FD_SET(fd_, &writable);
        struct timeval none = {0, 0};
        if (select(fd_ + 1, nullptr, &writable, nullptr, &none) > 0) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) {
                state_ = State::Open;
            } else {
                /* lwIP reports the peer's RST to our SYN as ECONNRESET. */
                fail(err == ECONNREFUSED || err == ECONNRESET ? "connection refused"
                                                              : "connection failed");
            }
        } else if (now_us >= deadline_us_) {
            fail("connection timed out");
        }
    }
    return state_;
}

int NetLink::write_some(const uint8_t *data, size_t len)
{
    if (state_ != State::Open) {
        return -1;
    }
    int n = send(fd_, data, len < kMaxWrite ? len : kMaxWrite, MSG_DONTWAIT);
    if (n >= 0) {
        return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOMEM) {
        return 0; /* the send buffer (or lwIP's pbuf pool) is full: later */
    }
    fail(errno == ECONNRESET ? "connection reset" : "send failed");
    return -1;
}

int NetLink::read_some(uint8_t *buf, size_t cap)
{
    if (state_ != State::Open) {
        return -1;
    }
    int n = recv(fd_, buf, cap, MSG_DONTWAIT);
    if (n > 0) {
        return n;
    }
    if (n == 0) {
        return kEnd; /* an orderly FIN: readable, and nothing more will come */
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return 0;
    }
    fail(errno == ECONNRESET ? "connection reset" : "receive failed");
    return -1;
}

void NetLink::close()
{
    if (fd_ >= 0) {
        ::close(fd_); /* lwIP sends what is queued, then FIN */
        fd_ = -1;
    }
    state_ = State::Idle;
}

void NetLink::abort()
{
    if (fd_ >= 0) {
#if defined(CONFIG_LWIP_SO_LINGER) && CONFIG_LWIP_SO_LINGER
        struct linger now = {1, 0}; /* RST: nothing queued matters any more */
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &now, sizeof now);
#endif
        /* Without SO_LINGER (Arduino's lwIP has it off) lwIP still sends what is queued,
         * then FIN, in the background; the loop is done with the connection either way. */
        ::close(fd_);
        fd_ = -1;
    }
    state_ = State::Idle;
    resolve_id_ = 0;
}
