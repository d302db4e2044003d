/* NetLink on the host (net_link.h): the camera's TCP connection as lwIP on the ESP32 gives it,
 * over a real socket to the real app. What the model adds to the real socket:
 *
 * - a send buffer of LinkParams::send_buffer bytes (lwIP's 5,744): a write takes what fits,
 *   and space comes back only when the bytes are acknowledged;
 * - the air: bytes leave at rate_bytes_per_s, reach the app rtt/2 later and are acknowledged
 *   one round trip after leaving (or rtt/2 after the app's socket took them, if later);
 * - a peer that stops reading (model_link_stall): nothing is delivered or acknowledged, so
 *   the send buffer fills and stays full;
 * - a reset from the network (model_link_reset); the app's own FIN or reset arrive for real;
 * - name lookups that take dns_us, or never answer (names ending in ".invalid").
 *
 * There is one connection at a time, as on the board, so the model's state is file-wide. */
#include "net_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "board_mark.h"
#include "host_model.h"

namespace {

struct Sent {
    uint64_t end;     /* stream offset just past this write's bytes */
    double tx_done_us; /* when its last byte left on the air */
};

struct Ping {
    uint64_t read_us;
    double on_air_at_read; /* bytes the air had carried when the PING was read */
};

struct PongWait {
    Ping ping;
    uint64_t end;
};

struct Model {
    int fd = -1;
    bool resolving = false;
    uint64_t resolve_at_us = 0; /* 0: never */
    std::string name;
    bool connecting = false;
    uint64_t connect_start_us = 0;
    /* camera -> app */
    std::deque<uint8_t> unsent; /* accepted, not yet given to the app's socket */
    uint64_t accepted = 0;
    uint64_t delivered = 0;
    uint64_t acked = 0;
    double tx_clock_us = 0; /* when the air finishes what was accepted so far */
    std::deque<Sent> sent;
    std::deque<std::pair<uint64_t, uint64_t>> acks; /* (offset, time) */
    /* app -> camera */
    std::deque<std::pair<uint64_t, std::vector<uint8_t>>> arriving;
    uint64_t fin_at = 0;   /* 0: none */
    uint64_t reset_at = 0; /* 0: none */
    uint64_t end_ready_iteration = 0;
    bool end_noticed = false;
    /* PONG timing */
    std::deque<Ping> pings;
    std::vector<PongWait> pongs;
};

Model m;
bool s_stalled = false; /* the app stopped reading: outlives a connection */

double on_air_by(double now_us)
{
    double behind = m.tx_clock_us - now_us;
    double pending = behind > 0 ? behind * g_link.rate_bytes_per_s / 1e6 : 0;
    return static_cast<double>(m.accepted) - pending;
}

void close_fd(bool reset)
{
    if (m.fd < 0) {
        return;
    }
    if (reset) {
        struct linger now = {1, 0};
        setsockopt(m.fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    }
    ::close(m.fd);
    m.fd = -1;
}

void reset_model()
{
    close_fd(true);
    m = Model();
}

void notice_end()
{
    if (!m.end_noticed) {
        m.end_noticed = true;
        uint64_t ready = m.fin_at != 0 ? m.fin_at : m.reset_at;
        uint64_t now = model_now_us();
        g_stats.end_notice_us.push_back(now > ready ? now - ready : 0);
        g_stats.end_notice_iterations.push_back(g_stats.iterations - m.end_ready_iteration);
        g_stats.end_iteration_start_us.push_back(model_iteration_start_us());
    }
}

void resolve_pongs()
{
    for (size_t i = 0; i < m.pongs.size();) {
        PongWait &p = m.pongs[i];
        if (p.end > m.accepted) {
            i++;
            continue;
        }
        double tx_done = 0;
        for (const Sent &s : m.sent) {
            if (s.end >= p.end) {
                tx_done = s.tx_done_us;
                break;
            }
        }
        g_stats.pong_wall_ms.push_back((tx_done - static_cast<double>(p.ping.read_us)) / 1000.0);
        g_stats.pong_link_ms.push_back((static_cast<double>(p.end) - p.ping.on_air_at_read) /
                                       g_link.rate_bytes_per_s * 1000.0);
        m.pongs.erase(m.pongs.begin() + static_cast<long>(i));
    }
}

/* Bring the link up to now (*now); true when a reset has arrived (and is noticed). */
bool reset_arrived(uint64_t *now)
{
    model_link_advance();
    *now = model_now_us();
    if (m.reset_at != 0 && m.reset_at <= *now) {
        notice_end();
        return true;
    }
    return false;
}

} // namespace

/* ---- the model's side: what board_main and board_mark call -------------------------- */

void model_link_stall(bool stalled)
{
    s_stalled = stalled;
}

void model_link_reset()
{
    if (m.fd >= 0 && m.reset_at == 0) {
        m.reset_at = model_now_us();
        m.end_ready_iteration = g_stats.iterations;
    }
}

void model_link_advance()
{
    if (m.fd < 0 || m.connecting) {
        return;
    }
    uint64_t now = model_now_us();
    /* Deliver what has crossed the air, unless the app stopped reading. */
    while (!s_stalled && !m.unsent.empty() && m.reset_at == 0) {
        const Sent *front = nullptr;
        for (const Sent &s : m.sent) {
            if (s.end > m.delivered) {
                front = &s;
                break;
            }
        }
        if (front == nullptr || front->tx_done_us + static_cast<double>(g_link.rtt_us) / 2 > now) {
            break;
        }
        size_t n = static_cast<size_t>(front->end - m.delivered);
        std::vector<uint8_t> bytes(m.unsent.begin(), m.unsent.begin() + static_cast<long>(n));
        ssize_t w = send(m.fd, bytes.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) {
            break; /* the app's socket is full: its reader is behind */
        }
        m.unsent.erase(m.unsent.begin(), m.unsent.begin() + w);
        m.delivered += static_cast<uint64_t>(w);
        g_stats.bytes_delivered += static_cast<uint64_t>(w);
        uint64_t ack = static_cast<uint64_t>(front->tx_done_us) + g_link.rtt_us;
        uint64_t ack_late = now + g_link.rtt_us / 2;
        m.acks.emplace_back(m.delivered, ack > ack_late ? ack : ack_late);
        while (!m.sent.empty() && m.sent.front().end <= m.delivered) {
            m.sent.pop_front();
        }
    }
    while (!m.acks.empty() && m.acks.front().second <= now) {
        m.acked = m.acks.front().first;
        m.acks.pop_front();
    }
    /* Receive what the app sent; it arrives rtt/2 later. */
    while (m.fin_at == 0 && m.reset_at == 0) {
        uint8_t buf[4096];
        ssize_t n = recv(m.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            m.arriving.emplace_back(now + g_link.rtt_us / 2,
                                    std::vector<uint8_t>(buf, buf + n));
            continue;
        }
        if (n == 0) {
            m.fin_at = now + g_link.rtt_us / 2;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            m.reset_at = now + g_link.rtt_us / 2; /* ECONNRESET and the like */
        }
        break;
    }
    uint64_t ready = m.reset_at != 0 ? m.reset_at : m.fin_at;
    if (ready != 0 && ready <= now && m.end_ready_iteration == 0) {
        m.end_ready_iteration = g_stats.iterations;
    }
}

void board_mark(BoardMark mark, uint32_t value)
{
    switch (mark) {
    case BoardMark::PingRead: {
        uint64_t now = model_now_us();
        m.pings.push_back({now, on_air_by(static_cast<double>(now))});
        break;
    }
    case BoardMark::PongQueued:
        if (!m.pings.empty()) {
            m.pongs.push_back({m.pings.front(), m.accepted + value});
            m.pings.pop_front();
            resolve_pongs();
        }
        break;
    case BoardMark::FrameStarted:
        g_stats.frames_started++;
        break;
    }
}

/* ---- NetLink ------------------------------------------------------------------------- */

void NetLink::fail(const char *why)
{
    reset_model();
    state_ = State::Failed;
    why_ = why;
}

void NetLink::begin(const char *host, uint16_t port, uint32_t timeout_ms)
{
    abort();
    port_ = port;
    timeout_ms_ = timeout_ms;
    why_ = "";
    g_stats.connects++;
    g_stats.connect_at_us.push_back(model_now_us());
    struct in_addr literal;
    if (inet_pton(AF_INET, host, &literal) == 1) {
        addr_ = literal.s_addr;
        state_ = State::Connecting;
        return;
    }
    m.name = host;
    size_t len = m.name.size();
    bool never = len >= 8 && m.name.compare(len - 8, 8, ".invalid") == 0;
    uint64_t now = model_now_us();
    m.resolve_at_us = never ? 0 : now + g_link.dns_us;
    deadline_us_ = now + g_link.dns_timeout_us;
    state_ = State::Resolving;
}

NetLink::State NetLink::poll(uint64_t now_us)
{
    if (state_ == State::Resolving) {
        if (m.resolve_at_us == 0 || now_us < m.resolve_at_us) {
            if (now_us >= deadline_us_) {
                fail("name lookup timed out");
            }
            return state_;
        }
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        struct addrinfo *found = nullptr;
        if (getaddrinfo(m.name.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
            fail("name not found");
            return state_;
        }
        addr_ = reinterpret_cast<struct sockaddr_in *>(found->ai_addr)->sin_addr.s_addr;
        freeaddrinfo(found);
        state_ = State::Connecting;
    }
    if (state_ == State::Connecting && m.fd < 0) {
        m.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
        if (m.fd < 0) {
            fail("no socket available");
            return state_;
        }
        int one = 1;
        setsockopt(m.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sockaddr_in to;
        memset(&to, 0, sizeof to);
        to.sin_family = AF_INET;
        to.sin_port = htons(port_);
        to.sin_addr.s_addr = addr_;
        m.connecting = true;
        m.connect_start_us = now_us;
        deadline_us_ = now_us + static_cast<uint64_t>(timeout_ms_) * 1000u;
        if (connect(m.fd, reinterpret_cast<struct sockaddr *>(&to), sizeof to) != 0 &&
            errno != EINPROGRESS) {
            fail(errno == ECONNREFUSED ? "connection refused" : "connection failed");
        }
        return state_;
    }
    if (state_ == State::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        getsockopt(m.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            fail(err == ECONNREFUSED ? "connection refused" : "connection failed");
        } else if (getpeername(m.fd, reinterpret_cast<struct sockaddr *>(&peer), &plen) == 0 &&
                   now_us >= m.connect_start_us + g_link.rtt_us) { /* SYN, SYN-ACK */
            m.connecting = false;
            m.tx_clock_us = static_cast<double>(now_us);
            state_ = State::Open;
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
    uint64_t now = 0;
    if (reset_arrived(&now)) {
        fail("connection reset");
        return -1;
    }
    g_stats.writes++;
    size_t in_buffer = static_cast<size_t>(m.accepted - m.acked);
    size_t room = g_link.send_buffer > in_buffer ? g_link.send_buffer - in_buffer : 0;
    size_t n = len < kMaxWrite ? len : kMaxWrite;
    n = n < room ? n : room;
    if (n == 0) {
        g_stats.write_full++;
        return 0;
    }
    m.unsent.insert(m.unsent.end(), data, data + n);
    m.accepted += n;
    double start = m.tx_clock_us > static_cast<double>(now) ? m.tx_clock_us
                                                            : static_cast<double>(now);
    m.tx_clock_us = start + static_cast<double>(n) * 1e6 / g_link.rate_bytes_per_s;
    m.sent.push_back({m.accepted, m.tx_clock_us});
    g_stats.bytes_accepted += n;
    if (n > g_stats.largest_write) {
        g_stats.largest_write = n;
    }
    resolve_pongs();
    return static_cast<int>(n);
}

int NetLink::read_some(uint8_t *buf, size_t cap)
{
    if (state_ != State::Open) {
        return -1;
    }
    uint64_t now = 0;
    if (reset_arrived(&now)) {
        fail("connection reset");
        return -1;
    }
    size_t n = 0;
    while (n < cap && !m.arriving.empty() && m.arriving.front().first <= now) {
        std::vector<uint8_t> &bytes = m.arriving.front().second;
        size_t take = bytes.size() < cap - n ? bytes.size() : cap - n;
        memcpy(buf + n, bytes.data(), take);
        n += take;
        if (take == bytes.size()) {
            m.arriving.pop_front();
        } else {
            bytes.erase(bytes.begin(), bytes.begin() + static_cast<long>(take));
        }
    }
    if (n > 0) {
        return static_cast<int>(n);
    }
    if (m.fin_at != 0 && m.fin_at <= now && m.arriving.empty()) {
        notice_end();
        return kEnd;
    }
    return 0;
}

void NetLink::close()
{
    if (m.fd >= 0 && m.reset_at == 0 && !s_stalled) {
        /* lwIP sends what is queued before its FIN: hand the app what the model still holds. */
        std::vector<uint8_t> rest(m.unsent.begin(), m.unsent.end());
        if (!rest.empty()) {
            (void)send(m.fd, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        shutdown(m.fd, SHUT_WR);
    }
    close_fd(false);
    m = Model();
    state_ = State::Idle;
}

void NetLink::abort()
{
    close(); /* as on the board: Arduino's lwIP has no SO_LINGER, so this is a close too */
    resolve_id_ = 0;
}
