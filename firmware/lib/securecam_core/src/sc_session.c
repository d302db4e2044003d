/* The camera's session state machine (sc_protocol.h), mirroring CameraSession in
 * app/protocol/session.py. */
#include "securecam/sc_protocol.h"

#include <string.h>

size_t sc_session_size(void)
{
    return sizeof(sc_session);
}

size_t sc_event_size(void)
{
    return sizeof(sc_event);
}

/* --------------------------------------------------------------------------- helpers */

static uint64_t now_us(const sc_session *s)
{
    return s->clock.fn(s->clock.ctx);
}

/* a - b as a signed count, saturating instead of overflowing. */
static int64_t signed_diff(uint64_t a, uint64_t b)
{
    if (a >= b) {
        return a - b > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(a - b);
    }
    return b - a > (uint64_t)INT64_MAX ? -INT64_MAX : -(int64_t)(b - a);
}

static void wipe_keys(sc_session *s)
{
    sc_handshake_wipe(&s->hs);
    sc_cipher_wipe(&s->tx);
    sc_cipher_wipe(&s->rx);
    s->frame = NULL;
    s->frame_active = false;
    s->pong_count = 0;
    s->ping_count = 0;
}

/* Enter CLOSED; the first reason recorded is the one reported. */
static void end(sc_session *s, uint16_t code, const char *reason, size_t reason_len)
{
    if (s->state != SC_STATE_CLOSED) {
        size_t n = sc_utf8_prefix_len((const uint8_t *)reason, reason_len, SC_MAX_TEXT);
        if (n > 0) {
            memcpy(s->close_reason, reason, n);
        }
        s->close_reason[n] = '\0';
        s->close_code = code;
        s->state = SC_STATE_CLOSED;
    }
    wipe_keys(s);
}

static int fail(sc_session *s, int err, const char *reason)
{
    end(s, sc_close_code_for(err), reason, strlen(reason));
    return err;
}

static size_t overhead(const sc_session *s)
{
    return s->tx.has_key ? SC_AEAD_TAG_LEN : 0;
}

/* Encode `rec` into out and seal it in place; no state changes unless it succeeds. */
static int seal(sc_session *s, const sc_record *rec, uint8_t *out, size_t out_cap,
                size_t *out_len)
{
    if (out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    if (out_cap < overhead(s)) {
        return SC_ERR_BUFFER;
    }
    size_t len = 0;
    int ret = sc_record_encode(rec, out, out_cap - overhead(s), &len);
    if (ret == SC_OK) {
        ret = sc_cipher_encrypt(&s->tx, NULL, 0, out, len, out, out_cap, out_len);
    }
    return ret;
}

static bool ready_to_send(const sc_session *s)
{
    return s->state == SC_STATE_TRANSPORT && s->status_sent;
}

/* ------------------------------------------------------------------------- lifecycle */

int sc_session_init(sc_session *s, const char *device_id, const uint8_t *psk, sc_suite suite,
                    sc_rng rng, sc_clock clock)
{
    if (s == NULL || device_id == NULL || rng.fn == NULL || clock.fn == NULL) {
        return SC_ERR_ARG;
    }
    if ((suite != SC_SUITE_NOISE && suite != SC_SUITE_PLAIN) ||
        (suite == SC_SUITE_NOISE && psk == NULL)) {
        return SC_ERR_ARG;
    }
    memset(s, 0, sizeof *s);
    size_t hello_len = 0;
    int ret = sc_hello_encode(suite, device_id, s->hello, sizeof s->hello, &hello_len);
    if (ret != SC_OK) {
        return SC_ERR_ARG;
    }
    s->hello_len = (uint8_t)hello_len;
    s->suite = suite;
    s->has_psk = psk != NULL;
    s->rng = rng;
    s->clock = clock;
    s->next_ping_id = 1;
    if (suite == SC_SUITE_NOISE) {
        /* The prologue is the hello, so an altered hello fails message 1 at the app. */
        ret = sc_handshake_init(&s->hs, SC_NOISE_NNPSK0, true, s->hello, hello_len, psk, rng);
        if (ret != SC_OK) {
            sc_session_wipe(s);
            return ret;
        }
    }
    s->state = SC_STATE_IDLE;
    return SC_OK;
}

int sc_session_start(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (s == NULL || out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    if (s->state != SC_STATE_IDLE) {
        return SC_ERR_STATE;
    }
    size_t need = (size_t)s->hello_len + (s->suite == SC_SUITE_NOISE ? SC_NOISE_MSG_LEN : 0u);
    if (out_cap < need) {
        return SC_ERR_BUFFER;
    }
    memcpy(out, s->hello, s->hello_len);
    size_t msg1_len = 0;
    if (s->suite == SC_SUITE_NOISE) {
        int ret = sc_handshake_write(&s->hs, NULL, 0, out + s->hello_len, out_cap - s->hello_len,
                                     &msg1_len);
        if (ret != SC_OK) {
            return fail(s, ret, "handshake message 1 failed");
        }
    }
    *out_len = s->hello_len + msg1_len;
    s->started_us = now_us(s);
    s->state = SC_STATE_WAIT_ANSWER;
    return SC_OK;
}

void sc_session_wipe(sc_session *s)
{
    if (s == NULL) {
        return;
    }
    wipe_keys(s);
    sc_wipe(s, sizeof *s);
}

/* --------------------------------------------------------------------------- receive */

static int receive_answer(sc_session *s, const uint8_t *msg, size_t len, uint64_t rx_us,
                          sc_event *ev)
{
    if (s->suite == SC_SUITE_NOISE) {
        if (len != SC_NOISE_MSG_LEN) {
            return fail(s, SC_ERR_REJECTED, "handshake answer is not 48 bytes");
        }
        size_t payload_len = 0;
        if (sc_handshake_read(&s->hs, msg, len, NULL, 0, &payload_len) != SC_OK) {
            return fail(s, SC_ERR_REJECTED, "receiver failed authentication (wrong key?)");
        }
        /* Split wipes the ephemeral key, ck and h: forward secrecy starts here. */
        int ret = sc_handshake_split(&s->hs, &s->tx, &s->rx, s->handshake_hash);
        if (ret != SC_OK) {
            return fail(s, ret, "handshake split failed");
        }
    } else if (len != 0) {
        return fail(s, SC_ERR_REJECTED, "unexpected plain handshake answer");
    }
    s->state = SC_STATE_TRANSPORT;
    s->last_rx_us = rx_us;
    ev->type = SC_EVENT_HANDSHAKE_DONE;
    return SC_OK;
}

static void queue_pong(sc_session *s, const sc_ping *ping, uint64_t rx_us)
{
    if (s->pong_count == SC_MAX_PENDING_PONGS) { /* drop the oldest: the app forgot it too */
        s->pong_head = (uint8_t)((s->pong_head + 1) % SC_MAX_PENDING_PONGS);
        s->pong_count--;
    }
    sc_pong *pong = &s->pongs[(s->pong_head + s->pong_count) % SC_MAX_PENDING_PONGS];
    pong->ping_id = ping->ping_id;
    pong->echo_time_us = ping->sender_time_us;
    /* Stamped at the ping's arrival: the time it waits to be sent adds to the RTT, not to
     * the offset error. */
    pong->responder_time_us = rx_us;
    s->pong_count++;
}

static void match_pong(sc_session *s, const sc_pong *pong, uint64_t rx_us, sc_event *ev)
{
    for (uint8_t i = 0; i < s->ping_count; i++) {
        if (s->pings[i].id != pong->ping_id) {
            continue;
        }
        uint64_t sent = s->pings[i].sent_us;
        memmove(&s->pings[i], &s->pings[i + 1],
                (size_t)(s->ping_count - i - 1) * sizeof s->pings[0]);
        s->ping_count--;
        if (rx_us < sent) {
            return; /* a clock running backwards gives no usable sample */
        }
        /* floor((t0 + t1) / 2) without overflowing */
        uint64_t mid = sent / 2 + rx_us / 2 + (sent & rx_us & 1u);
        ev->type = SC_EVENT_PONG;
        ev->pong = *pong;
        ev->ping_sent_us = sent;
        ev->rtt_us = signed_diff(rx_us, sent);
        ev->offset_us = signed_diff(pong->responder_time_us, mid);
        return;
    }
    /* late or unsolicited: harmless, and no clock can be trusted from it */
}

static uint8_t suite_switch(const sc_session *s, uint8_t wanted)
{
    if (wanted != SC_SUITE_NOISE && wanted != SC_SUITE_PLAIN) {
        return 0; /* UNCHANGED or unknown: ignored, never fatal */
    }
    if (wanted == (uint8_t)s->suite || (wanted == SC_SUITE_NOISE && !s->has_psk)) {
        return 0;
    }
    return wanted;
}

static int receive_record(sc_session *s, uint8_t *msg, size_t len, uint64_t rx_us,
                          sc_event *ev)
{
    if (len > SC_MAX_MESSAGE) {
        return fail(s, SC_ERR_TOO_LONG, "message over 65535 bytes");
    }
    size_t rec_len = 0;
    int ret = sc_cipher_decrypt(&s->rx, NULL, 0, msg, len, msg, len, &rec_len);
    if (ret == SC_ERR_AUTH) {
        return fail(s, ret, "message failed authentication (tampered, replayed or out of order)");
    }
    if (ret != SC_OK) {
        return fail(s, ret, "decryption failed");
    }
    s->last_rx_us = rx_us;
    sc_record rec;
    if (sc_record_parse(msg, rec_len, &rec) != SC_OK) {
        return fail(s, SC_ERR_MALFORMED, "malformed record");
    }
    switch (rec.type) {
    case SC_REC_PING:
        queue_pong(s, &rec.u.ping, rx_us);
        ev->type = SC_EVENT_PING;
        ev->ping = rec.u.ping;
        return SC_OK;
    case SC_REC_PONG:
        match_pong(s, &rec.u.pong, rx_us, ev);
        return SC_OK;
    case SC_REC_CONTROL:
        ev->type = SC_EVENT_CONTROL;
        ev->control = rec.u.control;
        ev->switch_suite = suite_switch(s, rec.u.control.suite);
        return SC_OK;
    case SC_REC_CLOSE:
        ev->type = SC_EVENT_CLOSE;
        ev->close_code = rec.u.close.code;
        ev->reason_len = (uint8_t)rec.u.close.reason_len; /* <= 255 by the layout */
        memcpy(ev->reason, rec.u.close.reason, rec.u.close.reason_len);
        ev->reason[rec.u.close.reason_len] = '\0';
        end(s, rec.u.close.code, rec.u.close.reason, rec.u.close.reason_len);
        return SC_OK;
    case SC_REC_FRAME_CHUNK:
    case SC_REC_STATUS:
        break;
    }
    return fail(s, SC_ERR_MALFORMED, "record is not for the camera");
}

int sc_session_receive(sc_session *s, uint8_t *msg, size_t len, uint64_t rx_us, sc_event *ev)
{
    if (s == NULL || (msg == NULL && len > 0) || ev == NULL) {
        return SC_ERR_ARG;
    }
    memset(ev, 0, sizeof *ev);
    switch (s->state) {
    case SC_STATE_WAIT_ANSWER:
        return receive_answer(s, msg, len, rx_us, ev);
    case SC_STATE_TRANSPORT:
        return receive_record(s, msg, len, rx_us, ev);
    case SC_STATE_CLOSED:
        return SC_OK; /* anything still arriving is ignored */
    case SC_STATE_IDLE:
        break;
    }
    return SC_ERR_STATE;
}

/* ------------------------------------------------------------------------------ send */

int sc_session_status(sc_session *s, const sc_status *status, uint8_t *out, size_t out_cap,
                      size_t *out_len)
{
    if (s == NULL || status == NULL) {
        return SC_ERR_ARG;
    }
    if (s->state != SC_STATE_TRANSPORT) {
        return SC_ERR_STATE;
    }
    sc_record rec = {.type = SC_REC_STATUS, .u.status = *status};
    int ret = seal(s, &rec, out, out_cap, out_len);
    if (ret == SC_OK) {
        s->status_sent = true;
    }
    return ret;
}

size_t sc_session_pending(const sc_session *s)
{
    return s != NULL && ready_to_send(s) ? s->pong_count : 0;
}

int sc_session_poll(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (s == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    *out_len = 0;
    if (s->state != SC_STATE_TRANSPORT) {
        return SC_ERR_STATE;
    }
    if (!s->status_sent || s->pong_count == 0) {
        return SC_OK; /* owed PONGs wait for the STATUS, which must be the first record */
    }
    sc_record rec = {.type = SC_REC_PONG, .u.pong = s->pongs[s->pong_head]};
    int ret = seal(s, &rec, out, out_cap, out_len);
    if (ret != SC_OK) {
        *out_len = 0;
        return ret;
    }
    s->pong_head = (uint8_t)((s->pong_head + 1) % SC_MAX_PENDING_PONGS);
    s->pong_count--;
    return SC_OK;
}

int sc_session_ping(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (s == NULL) {
        return SC_ERR_ARG;
    }
    if (!ready_to_send(s)) {
        return SC_ERR_STATE;
    }
    uint64_t now = now_us(s);
    sc_record rec = {.type = SC_REC_PING, .u.ping = {s->next_ping_id, now}};
    int ret = seal(s, &rec, out, out_cap, out_len);
    if (ret != SC_OK) {
        return ret;
    }
    if (s->ping_count == SC_MAX_OUTSTANDING_PINGS) { /* forget the oldest, like the app */
        memmove(&s->pings[0], &s->pings[1], (SC_MAX_OUTSTANDING_PINGS - 1) * sizeof s->pings[0]);
        s->ping_count--;
    }
    s->pings[s->ping_count].id = s->next_ping_id;
    s->pings[s->ping_count].sent_us = now;
    s->ping_count++;
    s->next_ping_id++; /* wraps at 2^32 like the app's */
    return SC_OK;
}

int sc_session_frame_begin(sc_session *s, const uint8_t *jpeg, size_t len, uint32_t seq,
                           uint64_t capture_us, size_t chunk_data)
{
    if (s == NULL || jpeg == NULL || len == 0 || chunk_data > SC_MAX_CHUNK_DATA) {
        return SC_ERR_ARG;
    }
    if (!ready_to_send(s) || s->frame_active) {
        return SC_ERR_STATE;
    }
    if (s->has_last_seq && seq <= s->last_seq) {
        return SC_ERR_ARG; /* the app closes with 4010 on a seq that does not increase */
    }
    if (chunk_data == 0) {
        chunk_data = SC_MAX_CHUNK_DATA;
    }
    if (len > SC_MAX_FRAME_BYTES) {
        return SC_ERR_TOO_LONG;
    }
    size_t count = len / chunk_data + (len % chunk_data != 0);
    if (count > SC_MAX_CHUNKS) {
        return SC_ERR_TOO_LONG;
    }
    s->frame = jpeg;
    s->frame_len = len;
    s->frame_off = 0;
    s->chunk_data = chunk_data;
    s->frame_seq = seq;
    s->capture_us = capture_us;
    s->send_us = 0;
    s->chunk_index = 0;
    s->chunk_count = (uint16_t)count;
    s->frame_active = true;
    s->last_seq = seq;
    s->has_last_seq = true;
    return SC_OK;
}

int sc_session_frame_next_chunk(sc_session *s, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (s == NULL || out == NULL || out_len == NULL) {
        return SC_ERR_ARG;
    }
    if (s->state != SC_STATE_TRANSPORT || !s->frame_active) {
        return SC_ERR_STATE;
    }
    size_t n = s->frame_len - s->frame_off;
    if (n > s->chunk_data) {
        n = s->chunk_data;
    }
    size_t record_len = SC_CHUNK_HEADER_LEN + n;
    if (out_cap < record_len + overhead(s)) {
        return SC_ERR_BUFFER;
    }
    if (s->chunk_index == 0) {
        s->send_us = now_us(s); /* just before chunk 0 is sealed, as 7 defines send_us */
    }
    sc_chunk_header_encode(s->frame_seq, s->capture_us, s->send_us, (uint32_t)s->frame_len,
                           s->chunk_index, s->chunk_count, out);
    memcpy(out + SC_CHUNK_HEADER_LEN, s->frame + s->frame_off, n);
    int ret = sc_cipher_encrypt(&s->tx, NULL, 0, out, record_len, out, out_cap, out_len);
    if (ret != SC_OK) {
        return ret;
    }
    s->frame_off += n;
    s->chunk_index++;
    if (s->chunk_index == s->chunk_count) {
        s->frame_active = false;
        s->frame = NULL;
    }
    return SC_OK;
}

bool sc_session_frame_active(const sc_session *s)
{
    return s != NULL && s->frame_active;
}

/* ----------------------------------------------------------------------------- close */

int sc_session_close(sc_session *s, uint16_t code, const char *reason, uint8_t *out,
                     size_t out_cap, size_t *out_len)
{
    if (s == NULL || out_len == NULL || (out == NULL && out_cap > 0)) {
        return SC_ERR_ARG;
    }
    *out_len = 0;
    if (reason == NULL) {
        reason = "";
    }
    size_t reason_len = strlen(reason);
    if (s->state == SC_STATE_TRANSPORT) {
        sc_record rec = {.type = SC_REC_CLOSE, .u.close = {code, reason, reason_len}};
        int ret = seal(s, &rec, out, out_cap, out_len);
        if (ret != SC_OK) {
            *out_len = 0;
            return ret;
        }
    }
    end(s, code, reason, reason_len);
    return SC_OK;
}

void sc_session_transport_closed(sc_session *s, uint16_t code, const char *reason)
{
    if (s == NULL) {
        return;
    }
    if (reason == NULL) {
        reason = code == 0 ? "connection lost" : "";
    }
    end(s, code == 0 ? SC_CLOSE_ABNORMAL : code, reason, strlen(reason));
}

/* --------------------------------------------------------------------------- queries */

sc_session_state sc_session_get_state(const sc_session *s)
{
    return s->state;
}

sc_suite sc_session_suite(const sc_session *s)
{
    return s->suite;
}

uint16_t sc_session_close_code(const sc_session *s)
{
    return s->state == SC_STATE_CLOSED ? s->close_code : 0;
}

const char *sc_session_close_reason(const sc_session *s)
{
    return s->close_reason;
}

const uint8_t *sc_session_handshake_hash(const sc_session *s)
{
    return s->handshake_hash;
}

bool sc_session_timed_out(const sc_session *s, uint64_t now)
{
    switch (s->state) {
    case SC_STATE_WAIT_ANSWER:
        return now >= s->started_us && now - s->started_us >= SC_ANSWER_TIMEOUT_US;
    case SC_STATE_TRANSPORT:
        return now >= s->last_rx_us && now - s->last_rx_us >= SC_IDLE_TIMEOUT_US;
    case SC_STATE_IDLE:
    case SC_STATE_CLOSED:
        break;
    }
    return false;
}
