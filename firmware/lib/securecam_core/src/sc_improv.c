/* Improv serial framing: a resynchronising parser and the packet encoders. */
#include "securecam/sc_improv.h"

#include <string.h>

static const uint8_t MAGIC[6] = {'I', 'M', 'P', 'R', 'O', 'V'};

void sc_improv_parser_init(sc_improv_parser *p)
{
    memset(p, 0, sizeof *p);
}

bool sc_improv_parser_pending(const sc_improv_parser *p)
{
    return p->len > 0;
}

uint8_t sc_improv_checksum(const uint8_t *bytes, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += bytes[i];
    }
    return (uint8_t)(sum & 0xFFu);
}

/* Drop the first n buffered bytes and zero what they leave behind. */
static void drop(sc_improv_parser *p, size_t n)
{
    if (n > p->len) {
        n = p->len;
    }
    memmove(p->buf, p->buf + n, p->len - n);
    memset(p->buf + (p->len - n), 0, n);
    p->len -= n;
}

/* Find a packet in the buffer. Returns NEED_MORE with *need = how many more bytes would
 * settle the question (at least 1) when the buffer holds the start of a possible packet. */
static sc_improv_event scan(sc_improv_parser *p, sc_improv_packet *out, size_t *need)
{
    while (p->len > 0) {
        if (p->buf[0] != MAGIC[0]) {
            const uint8_t *next = memchr(p->buf + 1, MAGIC[0], p->len - 1);
            drop(p, next != NULL ? (size_t)(next - p->buf) : p->len);
            continue;
        }
        size_t prefix = p->len < sizeof MAGIC ? p->len : sizeof MAGIC;
        if (memcmp(p->buf, MAGIC, prefix) != 0) {
            drop(p, 1);
            continue;
        }
        if (p->len < SC_IMPROV_HEADER_LEN) {
            /* Check the version as soon as it is here so "IMPROVED" is dropped early. */
            if (p->len > 6 && p->buf[6] != SC_IMPROV_VERSION) {
                drop(p, 1);
                continue;
            }
            *need = SC_IMPROV_HEADER_LEN - p->len;
            return SC_IMPROV_NEED_MORE;
        }
        if (p->buf[6] != SC_IMPROV_VERSION) {
            drop(p, 1);
            continue;
        }
        size_t total = SC_IMPROV_HEADER_LEN + (size_t)p->buf[8] + 1;
        if (p->len < total) {
            *need = total - p->len;
            return SC_IMPROV_NEED_MORE;
        }
        if (sc_improv_checksum(p->buf, total - 1) != p->buf[total - 1]) {
            /* Resync one byte on: the bytes we framed may hold a real packet. */
            drop(p, 1);
            return SC_IMPROV_BAD_CHECKSUM;
        }
        out->type = p->buf[7];
        out->len = p->buf[8];
        memcpy(out->data, p->buf + SC_IMPROV_HEADER_LEN, out->len);
        drop(p, total);
        return SC_IMPROV_PACKET;
    }
    *need = 1;
    return SC_IMPROV_NEED_MORE;
}

sc_improv_event sc_improv_parser_feed(sc_improv_parser *p, const uint8_t *data, size_t len,
                                      size_t *consumed, sc_improv_packet *out)
{
    size_t used = 0;
    for (;;) {
        size_t need = 0;
        sc_improv_event ev = scan(p, out, &need);
        if (ev != SC_IMPROV_NEED_MORE || used == len) {
            *consumed = used;
            return ev;
        }
        if (p->len == 0) {
            /* Fast path through noise: nothing can start before the next 'I'. */
            const uint8_t *next = memchr(data + used, MAGIC[0], len - used);
            if (next == NULL) {
                *consumed = len;
                return SC_IMPROV_NEED_MORE;
            }
            used = (size_t)(next - data);
        }
        /* Take only what settles the current candidate, so the buffer never overflows:
         * need <= SC_IMPROV_MAX_PACKET - len by construction of scan(). */
        size_t take = len - used < need ? len - used : need;
        memcpy(p->buf + p->len, data + used, take);
        p->len += take;
        used += take;
    }
}

sc_improv_abandon sc_improv_parser_abandon(sc_improv_parser *p)
{
    if (p->len == 0) {
        return SC_IMPROV_ABANDONED_NOTHING;
    }
    sc_improv_abandon what =
        p->len >= SC_IMPROV_HEADER_LEN ? SC_IMPROV_ABANDONED_PACKET : SC_IMPROV_ABANDONED_NOISE;
    drop(p, 1);
    return what;
}

size_t sc_improv_encode_packet(uint8_t type, const uint8_t *data, size_t len, uint8_t *out,
                               size_t cap)
{
    size_t total = SC_IMPROV_HEADER_LEN + len + 1;
    if (len > SC_IMPROV_MAX_DATA || total > cap) {
        return 0;
    }
    memcpy(out, MAGIC, sizeof MAGIC);
    out[6] = SC_IMPROV_VERSION;
    out[7] = type;
    out[8] = (uint8_t)len;
    if (len > 0) {
        memmove(out + SC_IMPROV_HEADER_LEN, data, len);
    }
    out[total - 1] = sc_improv_checksum(out, total - 1);
    return total;
}

size_t sc_improv_encode_state(uint8_t state, uint8_t *out, size_t cap)
{
    return sc_improv_encode_packet(SC_IMPROV_TYPE_CURRENT_STATE, &state, 1, out, cap);
}

size_t sc_improv_encode_error(uint8_t error, uint8_t *out, size_t cap)
{
    return sc_improv_encode_packet(SC_IMPROV_TYPE_ERROR_STATE, &error, 1, out, cap);
}

size_t sc_improv_encode_result(uint8_t command, const sc_improv_str *strings, size_t count,
                               uint8_t *out, size_t cap)
{
    size_t body = 0;
    for (size_t i = 0; i < count; i++) {
        if (strings[i].len > 255) {
            return 0;
        }
        body += 1 + strings[i].len;
        if (body > SC_IMPROV_MAX_RPC_PAYLOAD) {
            return 0;
        }
    }
    size_t total = SC_IMPROV_HEADER_LEN + 2 + body + 1;
    if (total > cap) {
        return 0;
    }
    /* Build the data in place after the header, then frame it. */
    uint8_t *d = out + SC_IMPROV_HEADER_LEN;
    d[0] = command;
    d[1] = (uint8_t)body;
    size_t o = 2;
    for (size_t i = 0; i < count; i++) {
        d[o++] = (uint8_t)strings[i].len;
        if (strings[i].len > 0) {
            memcpy(d + o, strings[i].ptr, strings[i].len);
        }
        o += strings[i].len;
    }
    return sc_improv_encode_packet(SC_IMPROV_TYPE_RPC_RESULT, d, o, out, cap);
}

size_t sc_improv_encode_rpc(uint8_t command, const uint8_t *payload, size_t len, uint8_t *out,
                            size_t cap)
{
    if (len > SC_IMPROV_MAX_RPC_PAYLOAD || SC_IMPROV_HEADER_LEN + 2 + len + 1 > cap) {
        return 0;
    }
    uint8_t *d = out + SC_IMPROV_HEADER_LEN;
    if (len > 0) {
        memmove(d + 2, payload, len);
    }
    d[0] = command;
    d[1] = (uint8_t)len;
    return sc_improv_encode_packet(SC_IMPROV_TYPE_RPC_COMMAND, d, len + 2, out, cap);
}

bool sc_improv_rpc_split(const sc_improv_packet *packet, uint8_t *command,
                         const uint8_t **payload, size_t *len)
{
    if (packet->type != SC_IMPROV_TYPE_RPC_COMMAND || packet->len < 2 ||
        (size_t)packet->data[1] != (size_t)packet->len - 2) {
        return false;
    }
    *command = packet->data[0];
    *payload = packet->data + 2;
    *len = packet->data[1];
    return true;
}

int sc_improv_strings_split(const uint8_t *data, size_t len, sc_improv_str *out, size_t max)
{
    size_t n = 0;
    size_t o = 0;
    while (o < len) {
        size_t slen = data[o];
        if (n == max || slen > len - o - 1) {
            return -1;
        }
        out[n].ptr = data + o + 1;
        out[n].len = slen;
        n++;
        o += 1 + slen;
    }
    return (int)n;
}
