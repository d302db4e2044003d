/* The camera session against a C stand-in for the app (a Noise responder): the whole
 * exchange, failures (tampered, replayed, reordered, wrong key, wrong direction), chunking of
 * a 200 KB frame, limits, timeouts and the plain suite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_test.h"
#include "securecam/sc_noise.h"
#include "securecam/sc_protocol.h"

static uint64_t rng_state = 42;
static const sc_rng RNG = {sc_test_rng, &rng_state};
static uint64_t cam_now = 1000000;

static uint64_t cam_clock_fn(void *ctx)
{
    (void)ctx;
    return cam_now;
}

static const sc_clock CLOCK = {cam_clock_fn, NULL};
static uint8_t PSK[32];
static uint8_t OTHER_PSK[32];
static const char FW[] = "securecam-fw/test";
/* As the firmware sends it: with both optional fields (a 9-byte extension). */
static const sc_status STATUS = {-60, 5, 12, 25, 640, 480, 150000, 0,    9,
                                 FW,  sizeof FW - 1, true, 7, true, 5200};
#define STATUS_LEN (SC_STATUS_HEADER_LEN + sizeof FW - 1 + SC_STATUS_EXT_MAX)

/* ------------------------------------------------------------------- the C "app" */

typedef struct {
    sc_suite suite;
    sc_cipher send;
    sc_cipher recv;
    uint8_t hash[32];
} app_t;

/* Answer the camera's first message like ReceiverSession: SC_OK with the answer in out, or
 * an error (the app would close with 4001..4004). */
static int app_answer(app_t *a, const uint8_t *psk, const uint8_t *first, size_t len,
                      uint8_t *out, size_t *out_len)
{
    memset(a, 0, sizeof *a);
    sc_hello hello;
    int ret = sc_hello_parse(first, len, &hello);
    if (ret != SC_OK) {
        return ret;
    }
    a->suite = hello.suite;
    if (hello.suite == SC_SUITE_PLAIN) {
        *out_len = 0;
        return len == hello.hello_len ? SC_OK : SC_ERR_BAD_HELLO;
    }
    sc_handshake hs;
    ret = sc_handshake_init(&hs, SC_NOISE_NNPSK0, false, first, hello.hello_len, psk, RNG);
    size_t plen = 0;
    if (ret == SC_OK) {
        ret = sc_handshake_read(&hs, first + hello.hello_len, len - hello.hello_len, NULL, 0,
                                &plen);
    }
    if (ret == SC_OK) {
        ret = sc_handshake_write(&hs, NULL, 0, out, 64, out_len);
    }
    if (ret == SC_OK) {
        ret = sc_handshake_split(&hs, &a->send, &a->recv, a->hash);
    }
    sc_handshake_wipe(&hs);
    return ret;
}

static size_t app_seal(app_t *a, const sc_record *rec, uint8_t *out, size_t cap)
{
    size_t len = 0, sealed = 0;
    CHECK(sc_record_encode(rec, out, cap - SC_AEAD_TAG_LEN, &len) == SC_OK);
    CHECK(sc_cipher_encrypt(&a->send, NULL, 0, out, len, out, cap, &sealed) == SC_OK);
    return sealed;
}

/* Decrypt in place and parse; the record points into msg. */
static int app_open(app_t *a, uint8_t *msg, size_t len, sc_record *rec)
{
    size_t plain = 0;
    int ret = sc_cipher_decrypt(&a->recv, NULL, 0, msg, len, msg, len, &plain);
    return ret == SC_OK ? sc_record_parse(msg, plain, rec) : ret;
}

static void app_free(app_t *a)
{
    sc_cipher_wipe(&a->send);
    sc_cipher_wipe(&a->recv);
}

static uint8_t buf[SC_MAX_MESSAGE + 64];

/* Camera and app through the handshake and the first STATUS. */
static void connect(sc_session *cam, app_t *app, sc_suite suite, const uint8_t *cam_psk,
                    const uint8_t *app_psk)
{
    size_t len = 0, answer_len = 0;
    uint8_t answer[64];
    CHECK(sc_session_init(cam, "cam-7", cam_psk, suite, RNG, CLOCK) == SC_OK);
    CHECK(sc_session_start(cam, buf, sizeof buf, &len) == SC_OK);
    CHECK(len == 12 + (suite == SC_SUITE_NOISE ? 48u : 0u));
    CHECK(app_answer(app, app_psk, buf, len, answer, &answer_len) == SC_OK);
    sc_event ev;
    CHECK(sc_session_receive(cam, answer, answer_len, cam_now, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_HANDSHAKE_DONE);
    CHECK(sc_session_get_state(cam) == SC_STATE_TRANSPORT);
    CHECK(sc_session_status(cam, &STATUS, buf, sizeof buf, &len) == SC_OK);
    sc_record rec;
    CHECK(app_open(app, buf, len, &rec) == SC_OK);
    CHECK(rec.type == SC_REC_STATUS && rec.u.status.rssi_dbm == -60);
    CHECK(rec.u.status.firmware_len == sizeof FW - 1);
    CHECK(rec.u.status.has_frames_dropped && rec.u.status.frames_dropped == 7);
    CHECK(rec.u.status.has_stack_min_free && rec.u.status.stack_min_free == 5200);
}

/* ---------------------------------------------------------------------------- tests */

static void test_full_exchange(void)
{
    sc_session cam;
    app_t app;
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    CHECK_MEM(sc_session_handshake_hash(&cam), app.hash, 32);
    CHECK(sc_session_suite(&cam) == SC_SUITE_NOISE);

    /* App PING -> camera PONG stamped with the ping's arrival, not the send time. */
    sc_record ping = {.type = SC_REC_PING, .u.ping = {77, 123456789}};
    uint8_t msg[512];
    size_t len = app_seal(&app, &ping, msg, sizeof msg);
    sc_event ev;
    CHECK(sc_session_receive(&cam, msg, len, 2000000, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_PING && ev.ping.ping_id == 77);
    cam_now = 2000500;
    size_t out_len = 0;
    CHECK(sc_session_poll(&cam, buf, sizeof buf, &out_len) == SC_OK && out_len == 21 + 16);
    sc_record rec;
    CHECK(app_open(&app, buf, out_len, &rec) == SC_OK);
    CHECK(rec.type == SC_REC_PONG && rec.u.pong.ping_id == 77);
    CHECK(rec.u.pong.echo_time_us == 123456789 && rec.u.pong.responder_time_us == 2000000);

    /* Camera PING -> app PONG -> clock sample with the floor of the midpoint. */
    cam_now = 3000001;
    CHECK(sc_session_ping(&cam, buf, sizeof buf, &out_len) == SC_OK);
    CHECK(app_open(&app, buf, out_len, &rec) == SC_OK);
    CHECK(rec.type == SC_REC_PING && rec.u.ping.ping_id == 1);
    CHECK(rec.u.ping.sender_time_us == 3000001);
    sc_record pong = {.type = SC_REC_PONG, .u.pong = {1, 3000001, 9000000}};
    len = app_seal(&app, &pong, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, 3000100, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_PONG && ev.pong.ping_id == 1 && ev.ping_sent_us == 3000001);
    CHECK(ev.rtt_us == 99 && ev.offset_us == 9000000 - 3000050);
    /* The same id again is unsolicited now: ignored. */
    len = app_seal(&app, &pong, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, 3000200, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_NONE);

    /* CONTROL, and which suite switches the camera would honour. */
    static const struct {
        uint8_t suite;
        uint8_t want;
    } switches[] = {{0, 0}, {1, 0}, {2, SC_SUITE_PLAIN}, {3, 0}, {255, 0}};
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++) {
        sc_record control = {.type = SC_REC_CONTROL, .u.control = {9, 4, 255, switches[i].suite}};
        len = app_seal(&app, &control, msg, sizeof msg);
        CHECK(sc_session_receive(&cam, msg, len, 3000300, &ev) == SC_OK);
        CHECK(ev.type == SC_EVENT_CONTROL && ev.control.frame_size == 9);
        CHECK(ev.control.quality == 4 && ev.control.fps_cap == 255);
        CHECK(ev.control.suite == switches[i].suite && ev.switch_suite == switches[i].want);
    }

    /* The app's authenticated CLOSE ends the session; the WebSocket code that follows
     * cannot override it, and later messages are ignored. */
    sc_record close = {.type = SC_REC_CLOSE, .u.close = {4013, "replaced by a newer session", 27}};
    len = app_seal(&app, &close, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, 3000400, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_CLOSE && ev.close_code == 4013 && ev.reason_len == 27);
    CHECK(strcmp(ev.reason, "replaced by a newer session") == 0);
    CHECK(sc_session_get_state(&cam) == SC_STATE_CLOSED);
    sc_session_transport_closed(&cam, 4003, "forged");
    CHECK(sc_session_close_code(&cam) == 4013);
    CHECK(strcmp(sc_session_close_reason(&cam), "replaced by a newer session") == 0);
    len = app_seal(&app, &ping, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, 3000500, &ev) == SC_OK && ev.type == SC_EVENT_NONE);
    CHECK(sc_session_close(&cam, 1000, "late", buf, sizeof buf, &out_len) == SC_OK);
    CHECK(out_len == 0 && sc_session_close_code(&cam) == 4013);
    CHECK(sc_session_status(&cam, &STATUS, buf, sizeof buf, &out_len) == SC_ERR_STATE);
    /* Keys are gone once closed. */
    CHECK(cam.tx.aead.impl == NULL && cam.rx.aead.impl == NULL && !cam.tx.has_key);
    sc_session_wipe(&cam);
    app_free(&app);
}

static void test_status_comes_first(void)
{
    sc_session cam;
    app_t app;
    size_t len = 0, answer_len = 0;
    uint8_t answer[64];
    CHECK(sc_session_init(&cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_OK);
    sc_event ev;
    CHECK(sc_session_receive(&cam, answer, 48, cam_now, &ev) == SC_ERR_STATE); /* not started */
    CHECK(sc_session_status(&cam, &STATUS, buf, sizeof buf, &len) == SC_ERR_STATE);
    CHECK(sc_session_start(&cam, buf, 40, &len) == SC_ERR_BUFFER);
    CHECK(sc_session_start(&cam, buf, sizeof buf, &len) == SC_OK);
    CHECK(sc_session_start(&cam, buf, sizeof buf, &len) == SC_ERR_STATE);
    CHECK(app_answer(&app, PSK, buf, len, answer, &answer_len) == SC_OK);
    CHECK(sc_session_receive(&cam, answer, answer_len, cam_now, &ev) == SC_OK);

    /* PING #1 arrives before the camera has sent its STATUS: the PONG waits. */
    sc_record ping = {.type = SC_REC_PING, .u.ping = {1, 5}};
    uint8_t msg[64];
    len = app_seal(&app, &ping, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK && ev.type == SC_EVENT_PING);
    CHECK(sc_session_pending(&cam) == 0);
    CHECK(sc_session_poll(&cam, buf, sizeof buf, &len) == SC_OK && len == 0);
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xd9};
    CHECK(sc_session_frame_begin(&cam, jpeg, sizeof jpeg, 1, 0, 0) == SC_ERR_STATE);
    CHECK(sc_session_ping(&cam, buf, sizeof buf, &len) == SC_ERR_STATE);

    /* A too-small buffer consumes no nonce: the app still decrypts the retry. */
    CHECK(sc_session_status(&cam, &STATUS, buf, SC_SEALED_LEN(STATUS_LEN) - 1, &len) ==
          SC_ERR_BUFFER);
    CHECK(sc_session_status(&cam, &STATUS, buf, SC_SEALED_LEN(STATUS_LEN), &len) == SC_OK);
    CHECK(len == SC_SEALED_LEN(STATUS_LEN));
    sc_record rec;
    CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.type == SC_REC_STATUS);
    CHECK(sc_session_pending(&cam) == 1);
    CHECK(sc_session_poll(&cam, buf, SC_SEALED_LEN(SC_PONG_LEN) - 1, &len) == SC_ERR_BUFFER);
    CHECK(sc_session_poll(&cam, buf, SC_SEALED_LEN(SC_PONG_LEN), &len) == SC_OK);
    CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.type == SC_REC_PONG);
    sc_session_wipe(&cam);
    app_free(&app);
}

/* One transport failure: the camera must report `code` and refuse to send a CLOSE record. */
static void expect_failure(sc_session *cam, uint8_t *msg, size_t len, int err, uint16_t code)
{
    sc_event ev;
    CHECK(sc_session_receive(cam, msg, len, cam_now, &ev) == err);
    CHECK(sc_session_get_state(cam) == SC_STATE_CLOSED);
    CHECK(sc_session_close_code(cam) == code);
    size_t out_len = 99;
    CHECK(sc_session_close(cam, 1000, "bye", buf, sizeof buf, &out_len) == SC_OK);
    CHECK(out_len == 0 && sc_session_close_code(cam) == code);
    CHECK(sc_close_code_for(err) == code);
}

static void test_transport_failures(void)
{
    sc_session cam;
    app_t app;
    uint8_t msg[512], copy[512];
    sc_record ping = {.type = SC_REC_PING, .u.ping = {1, 5}};
    sc_event ev;

    /* tampered */
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    size_t len = app_seal(&app, &ping, msg, sizeof msg);
    msg[3] ^= 0x01;
    expect_failure(&cam, msg, len, SC_ERR_AUTH, 4007);
    CHECK(strstr(sc_session_close_reason(&cam), "authentication") != NULL);
    sc_session_wipe(&cam);
    app_free(&app);

    /* replayed */
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    len = app_seal(&app, &ping, msg, sizeof msg);
    memcpy(copy, msg, len);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK && ev.type == SC_EVENT_PING);
    expect_failure(&cam, copy, len, SC_ERR_AUTH, 4007);
    sc_session_wipe(&cam);
    app_free(&app);

    /* reordered */
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    len = app_seal(&app, &ping, msg, sizeof msg);
    size_t len2 = app_seal(&app, &ping, copy, sizeof copy);
    expect_failure(&cam, copy, len2, SC_ERR_AUTH, 4007);
    sc_session_wipe(&cam);
    app_free(&app);

    /* truncated below the tag, and over the WebSocket limit */
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    expect_failure(&cam, msg, 15, SC_ERR_AUTH, 4007);
    sc_session_wipe(&cam);
    app_free(&app);
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    expect_failure(&cam, buf, SC_MAX_MESSAGE + 1, SC_ERR_TOO_LONG, 1009);
    sc_session_wipe(&cam);
    app_free(&app);

    /* authentic but malformed or in the wrong direction */
    static const uint8_t jpeg[] = {0xff, 0xd8};
    const sc_record wrong[] = {
        {.type = SC_REC_STATUS, .u.status = STATUS},
        {.type = SC_REC_FRAME_CHUNK, .u.chunk = {1, 2, 3, 2, 0, 1, jpeg, 2}},
    };
    for (size_t i = 0; i < 2; i++) {
        connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
        len = app_seal(&app, &wrong[i], msg, sizeof msg);
        expect_failure(&cam, msg, len, SC_ERR_MALFORMED, 4008);
        sc_session_wipe(&cam);
        app_free(&app);
    }
    static const uint8_t raw[][6] = {{0x02, 1, 2, 3}, {0x09}, {0x04, 1, 2, 3, 4, 5}, {0x00}};
    static const size_t raw_len[] = {4, 1, 6, 1};
    for (size_t i = 0; i < 4; i++) {
        connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
        CHECK(sc_cipher_encrypt(&app.send, NULL, 0, raw[i], raw_len[i], msg, sizeof msg, &len) ==
              SC_OK);
        expect_failure(&cam, msg, len, SC_ERR_MALFORMED, 4008);
        sc_session_wipe(&cam);
        app_free(&app);
    }
}

static void test_handshake_answer_failures(void)
{
    sc_session cam;
    app_t app;
    size_t len = 0, answer_len = 0;
    uint8_t first[128], answer[64], other[64];
    sc_event ev;

    /* A tampered, short, long, empty or foreign message 2 is 4015. */
    for (int variant = 0; variant < 5; variant++) {
        CHECK(sc_session_init(&cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_OK);
        CHECK(sc_session_start(&cam, first, sizeof first, &len) == SC_OK);
        CHECK(app_answer(&app, PSK, first, len, answer, &answer_len) == SC_OK);
        app_free(&app);
        size_t n = answer_len;
        if (variant == 0) {
            answer[47] ^= 0x20;
        } else if (variant == 1) {
            n = 47;
        } else if (variant == 2) {
            answer[48] = 0;
            n = 49; /* message 2 with a payload: v1 payloads are empty */
        } else if (variant == 3) {
            n = 0;
        } else {
            /* a genuine message 2, but for another camera's handshake */
            sc_session other_cam;
            uint8_t other_first[128];
            size_t other_len = 0;
            CHECK(sc_session_init(&other_cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) ==
                  SC_OK);
            CHECK(sc_session_start(&other_cam, other_first, sizeof other_first, &other_len) ==
                  SC_OK);
            CHECK(app_answer(&app, PSK, other_first, other_len, other, &n) == SC_OK);
            app_free(&app);
            memcpy(answer, other, n);
            sc_session_wipe(&other_cam);
        }
        CHECK(sc_session_receive(&cam, answer, n, cam_now, &ev) == SC_ERR_REJECTED);
        CHECK(sc_session_close_code(&cam) == SC_CLOSE_SERVER_REJECTED);
        CHECK(sc_close_code_is_rejection(sc_session_close_code(&cam)));
        CHECK(cam.hs.e_priv[0] == 0 && cam.hs.psk[0] == 0); /* handshake secrets wiped */
        sc_session_wipe(&cam);
    }

    /* Plain: only an empty answer is accepted. */
    CHECK(sc_session_init(&cam, "cam-7", NULL, SC_SUITE_PLAIN, RNG, CLOCK) == SC_OK);
    CHECK(sc_session_start(&cam, first, sizeof first, &len) == SC_OK && len == 12);
    CHECK(sc_session_receive(&cam, answer, 1, cam_now, &ev) == SC_ERR_REJECTED);
    CHECK(sc_session_close_code(&cam) == 4015);
    sc_session_wipe(&cam);
}

static void test_wrong_key(void)
{
    sc_session cam;
    app_t app;
    size_t len = 0, answer_len = 0;
    uint8_t answer[64];
    CHECK(sc_session_init(&cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_OK);
    CHECK(sc_session_start(&cam, buf, sizeof buf, &len) == SC_OK);
    /* The app holds another key: message 1 does not verify, the app closes with 4004. */
    CHECK(app_answer(&app, OTHER_PSK, buf, len, answer, &answer_len) == SC_ERR_AUTH);
    app_free(&app);
    sc_session_transport_closed(&cam, SC_CLOSE_AUTH_FAILED, "handshake failed (wrong key?)");
    CHECK(sc_session_get_state(&cam) == SC_STATE_CLOSED);
    CHECK(sc_session_close_code(&cam) == 4004);
    CHECK(sc_close_code_is_rejection(4004));
    sc_session_wipe(&cam);

    /* A hello altered in transit (another device id) fails the same way: it is the prologue. */
    CHECK(sc_session_init(&cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_OK);
    CHECK(sc_session_start(&cam, buf, sizeof buf, &len) == SC_OK);
    buf[11] = '8';
    CHECK(app_answer(&app, PSK, buf, len, answer, &answer_len) == SC_ERR_AUTH);
    app_free(&app);
    sc_session_wipe(&cam);
}

/* Receive one frame's chunks on the app side; returns the number of chunks. */
static size_t send_frame(sc_session *cam, app_t *app, const uint8_t *jpeg, size_t size,
                         uint32_t seq, size_t chunk_data, uint8_t *rebuilt, bool ping_midway)
{
    size_t got = 0, chunks = 0;
    uint64_t send_us = 0;
    uint16_t count = 0;
    CHECK(sc_session_frame_begin(cam, jpeg, size, seq, 4242, chunk_data) == SC_OK);
    CHECK(sc_session_frame_active(cam));
    const size_t step = chunk_data ? chunk_data : SC_MAX_CHUNK_DATA;
    while (sc_session_frame_active(cam)) {
        size_t n = size - got < step ? size - got : step;
        size_t len = 0;
        /* exactly the documented buffer size suffices, one byte less does not */
        size_t need = SC_CHUNK_MESSAGE_LEN(n) - (app->recv.has_key ? 0 : SC_AEAD_TAG_LEN);
        CHECK(sc_session_frame_next_chunk(cam, buf, need - 1, &len) == SC_ERR_BUFFER);
        CHECK(sc_session_frame_next_chunk(cam, buf, need, &len) == SC_OK);
        CHECK(len == need);
        cam_now += 1000; /* send_us must stay that of chunk 0 */
        sc_record rec;
        CHECK(app_open(app, buf, len, &rec) == SC_OK);
        CHECK(rec.type == SC_REC_FRAME_CHUNK);
        const sc_frame_chunk *c = &rec.u.chunk;
        if (chunks == 0) {
            send_us = c->send_us;
            count = c->count;
        }
        CHECK(c->seq == seq && c->capture_us == 4242 && c->send_us == send_us);
        CHECK(c->total_len == size && c->index == chunks && c->count == count);
        CHECK(c->data_len == n && got + c->data_len <= size);
        memcpy(rebuilt + got, c->data, c->data_len);
        got += c->data_len;
        chunks++;
        if (ping_midway && chunks == 1) {
            /* a PONG goes between two chunks of a frame */
            sc_record ping = {.type = SC_REC_PING, .u.ping = {(uint32_t)seq, 1}};
            uint8_t msg[64];
            size_t mlen = app_seal(app, &ping, msg, sizeof msg);
            sc_event ev;
            CHECK(sc_session_receive(cam, msg, mlen, cam_now, &ev) == SC_OK);
            CHECK(sc_session_poll(cam, buf, sizeof buf, &len) == SC_OK && len > 0);
            CHECK(app_open(app, buf, len, &rec) == SC_OK && rec.type == SC_REC_PONG);
            CHECK(rec.u.pong.ping_id == seq);
        }
    }
    CHECK(got == size && chunks == count);
    return chunks;
}

static void test_chunking_a_200kb_frame(void)
{
    sc_session cam;
    app_t app;
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    const size_t size = 200 * 1000;
    uint8_t *jpeg = malloc(size);
    uint8_t *rebuilt = malloc(size);
    uint64_t state = 5;
    sc_test_rng(&state, jpeg, size);
    jpeg[0] = 0xff;
    jpeg[1] = 0xd8;

    cam_now = 7000000;
    CHECK(send_frame(&cam, &app, jpeg, size, 10, 0, rebuilt, true) == 4); /* 3 x 65490 + 3530 */
    CHECK(memcmp(jpeg, rebuilt, size) == 0);
    memset(rebuilt, 0, size);
    CHECK(send_frame(&cam, &app, jpeg, size, 12, 16384, rebuilt, false) == 13);
    CHECK(memcmp(jpeg, rebuilt, size) == 0);
    CHECK(send_frame(&cam, &app, jpeg, 1, 13, 0, rebuilt, false) == 1);
    CHECK(send_frame(&cam, &app, jpeg, SC_MAX_CHUNK_DATA, 14, 0, rebuilt, false) == 1);
    CHECK(send_frame(&cam, &app, jpeg, SC_MAX_CHUNK_DATA + 1, 15, 0, rebuilt, false) == 2);
    CHECK(memcmp(jpeg, rebuilt, SC_MAX_CHUNK_DATA + 1) == 0);

    /* Limits and misuse. */
    size_t len = 0;
    CHECK(sc_session_frame_next_chunk(&cam, buf, sizeof buf, &len) == SC_ERR_STATE);
    CHECK(sc_session_frame_begin(&cam, jpeg, 0, 16, 0, 0) == SC_ERR_ARG);
    CHECK(sc_session_frame_begin(&cam, NULL, 10, 16, 0, 0) == SC_ERR_ARG);
    CHECK(sc_session_frame_begin(&cam, jpeg, 10, 15, 0, 0) == SC_ERR_ARG); /* seq not greater */
    CHECK(sc_session_frame_begin(&cam, jpeg, 10, 3, 0, 0) == SC_ERR_ARG);
    CHECK(sc_session_frame_begin(&cam, jpeg, 10, 16, 0, SC_MAX_CHUNK_DATA + 1) == SC_ERR_ARG);
    CHECK(sc_session_frame_begin(&cam, jpeg, SC_MAX_FRAME_BYTES + 1, 16, 0, 0) ==
          SC_ERR_TOO_LONG);
    CHECK(sc_session_frame_begin(&cam, jpeg, size, 16, 0, 3000) == SC_ERR_TOO_LONG); /* 67 */
    CHECK(sc_session_frame_begin(&cam, jpeg, 64 * 3000, 16, 0, 3000) == SC_OK);       /* 64 */
    CHECK(sc_session_frame_begin(&cam, jpeg, 10, 17, 0, 0) == SC_ERR_STATE); /* one at a time */
    /* Finish it: a frame cannot be abandoned, only the session closed. */
    while (sc_session_frame_active(&cam)) {
        CHECK(sc_session_frame_next_chunk(&cam, buf, sizeof buf, &len) == SC_OK);
        sc_record rec;
        CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.u.chunk.count == 64);
    }
    /* Closing mid-frame is allowed and drops the frame reference. */
    CHECK(sc_session_frame_begin(&cam, jpeg, size, 20, 0, 0) == SC_OK);
    CHECK(sc_session_frame_next_chunk(&cam, buf, sizeof buf, &len) == SC_OK);
    CHECK(app_open(&app, buf, len, &(sc_record){0}) == SC_OK);
    CHECK(sc_session_close(&cam, 1001, "rebooting", buf, sizeof buf, &len) == SC_OK);
    sc_record rec;
    CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.type == SC_REC_CLOSE);
    CHECK(rec.u.close.code == 1001 && rec.u.close.reason_len == 9);
    CHECK(!sc_session_frame_active(&cam) && cam.frame == NULL);
    sc_session_wipe(&cam);
    app_free(&app);
    free(jpeg);
    free(rebuilt);
}

static void test_largest_frame(void)
{
    sc_session cam;
    app_t app;
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    uint8_t *jpeg = malloc(SC_MAX_FRAME_BYTES);
    uint8_t *rebuilt = malloc(SC_MAX_FRAME_BYTES);
    uint64_t state = 6;
    sc_test_rng(&state, jpeg, SC_MAX_FRAME_BYTES);
    CHECK(send_frame(&cam, &app, jpeg, SC_MAX_FRAME_BYTES, 1, 0, rebuilt, false) == 33);
    CHECK(memcmp(jpeg, rebuilt, SC_MAX_FRAME_BYTES) == 0);
    sc_session_wipe(&cam);
    app_free(&app);
    free(jpeg);
    free(rebuilt);
}

static void test_ping_and_pong_queues(void)
{
    sc_session cam;
    app_t app;
    connect(&cam, &app, SC_SUITE_NOISE, PSK, PSK);
    uint8_t msg[64];
    sc_event ev;
    size_t len = 0;
    /* Nine PINGs before any poll: the oldest PONG is dropped, the other eight go in order. */
    for (uint32_t id = 1; id <= 9; id++) {
        sc_record ping = {.type = SC_REC_PING, .u.ping = {id, id * 10}};
        len = app_seal(&app, &ping, msg, sizeof msg);
        CHECK(sc_session_receive(&cam, msg, len, 100 + id, &ev) == SC_OK);
    }
    CHECK(sc_session_pending(&cam) == 8);
    for (uint32_t id = 2; id <= 9; id++) {
        sc_record rec;
        CHECK(sc_session_poll(&cam, buf, sizeof buf, &len) == SC_OK);
        CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.type == SC_REC_PONG);
        CHECK(rec.u.pong.ping_id == id && rec.u.pong.responder_time_us == 100 + id);
    }
    CHECK(sc_session_pending(&cam) == 0);

    /* Nine pings of our own: the first is forgotten, its late PONG yields nothing. */
    for (int i = 0; i < 9; i++) {
        sc_record rec;
        CHECK(sc_session_ping(&cam, buf, sizeof buf, &len) == SC_OK);
        CHECK(app_open(&app, buf, len, &rec) == SC_OK && rec.u.ping.ping_id == (uint32_t)i + 1);
    }
    sc_record pong = {.type = SC_REC_PONG, .u.pong = {1, 0, 0}};
    len = app_seal(&app, &pong, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK && ev.type == SC_EVENT_NONE);
    pong.u.pong.ping_id = 9;
    len = app_seal(&app, &pong, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK && ev.type == SC_EVENT_PONG);
    sc_session_wipe(&cam);
    app_free(&app);
}

static void test_timeouts(void)
{
    sc_session cam;
    app_t app;
    size_t len = 0, answer_len = 0;
    uint8_t answer[64];
    cam_now = 50000000;
    CHECK(sc_session_init(&cam, "cam-7", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_OK);
    CHECK(!sc_session_timed_out(&cam, cam_now + 60000000)); /* idle: no connection yet */
    CHECK(sc_session_start(&cam, buf, sizeof buf, &len) == SC_OK);
    CHECK(!sc_session_timed_out(&cam, cam_now + SC_ANSWER_TIMEOUT_US - 1));
    CHECK(sc_session_timed_out(&cam, cam_now + SC_ANSWER_TIMEOUT_US));
    CHECK(app_answer(&app, PSK, buf, len, answer, &answer_len) == SC_OK);
    sc_event ev;
    CHECK(sc_session_receive(&cam, answer, answer_len, cam_now + 1000, &ev) == SC_OK);
    CHECK(!sc_session_timed_out(&cam, cam_now + 1000 + SC_IDLE_TIMEOUT_US - 1));
    CHECK(sc_session_timed_out(&cam, cam_now + 1000 + SC_IDLE_TIMEOUT_US));
    sc_record ping = {.type = SC_REC_PING, .u.ping = {1, 5}};
    uint8_t msg[64];
    len = app_seal(&app, &ping, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now + 9000000, &ev) == SC_OK);
    CHECK(!sc_session_timed_out(&cam, cam_now + 1000 + SC_IDLE_TIMEOUT_US));
    sc_session_transport_closed(&cam, 0, NULL);
    CHECK(sc_session_close_code(&cam) == SC_CLOSE_ABNORMAL);
    CHECK(!sc_session_timed_out(&cam, UINT64_MAX));
    sc_session_wipe(&cam);
    app_free(&app);
}

static void test_plain_suite(void)
{
    sc_session cam;
    app_t app;
    connect(&cam, &app, SC_SUITE_PLAIN, NULL, NULL);
    CHECK(!app.send.has_key && !app.recv.has_key);
    static const uint8_t jpeg[] = {0xff, 0xd8, 1, 2, 3, 0xff, 0xd9};
    uint8_t rebuilt[16];
    CHECK(send_frame(&cam, &app, jpeg, sizeof jpeg, 1, 0, rebuilt, true) == 1);
    CHECK(memcmp(jpeg, rebuilt, sizeof jpeg) == 0);
    /* Without a key the camera cannot honour a switch to NOISE. */
    sc_record control = {.type = SC_REC_CONTROL, .u.control = {0, 0, 0, SC_SUITE_NOISE}};
    uint8_t msg[64];
    size_t len = app_seal(&app, &control, msg, sizeof msg);
    sc_event ev;
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_CONTROL && ev.switch_suite == 0);
    CHECK(sc_session_close(&cam, 1000, "switching to noise", buf, sizeof buf, &len) == SC_OK);
    CHECK(len == 4 + 18 && buf[0] == SC_REC_CLOSE); /* bare record */
    sc_session_wipe(&cam);
    app_free(&app);

    /* With a key it can; a switch to PLAIN inside a plain session is no switch. */
    connect(&cam, &app, SC_SUITE_PLAIN, PSK, NULL);
    len = app_seal(&app, &control, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK);
    CHECK(ev.switch_suite == SC_SUITE_NOISE);
    control.u.control.suite = SC_SUITE_PLAIN;
    len = app_seal(&app, &control, msg, sizeof msg);
    CHECK(sc_session_receive(&cam, msg, len, cam_now, &ev) == SC_OK);
    CHECK(ev.switch_suite == 0);
    /* Plain records are still parsed strictly. */
    static const uint8_t junk[] = {0x05, 0x00};
    memcpy(msg, junk, sizeof junk);
    expect_failure(&cam, msg, sizeof junk, SC_ERR_MALFORMED, 4008);
    sc_session_wipe(&cam);
    app_free(&app);
}

static void test_init_arguments(void)
{
    sc_session cam;
    CHECK(sc_session_init(&cam, "cam-7", NULL, SC_SUITE_NOISE, RNG, CLOCK) == SC_ERR_ARG);
    CHECK(sc_session_init(&cam, "-cam", PSK, SC_SUITE_NOISE, RNG, CLOCK) == SC_ERR_ARG);
    CHECK(sc_session_init(&cam, "abcdefghijklmnopqrstuvwxyz0123456", PSK, SC_SUITE_NOISE, RNG,
                          CLOCK) == SC_ERR_ARG);
    CHECK(sc_session_init(&cam, "cam", PSK, (sc_suite)0, RNG, CLOCK) == SC_ERR_ARG);
    CHECK(sc_session_init(&cam, "cam", PSK, SC_SUITE_NOISE, (sc_rng){NULL, NULL}, CLOCK) ==
          SC_ERR_ARG);
    CHECK(sc_session_init(&cam, "cam", PSK, SC_SUITE_NOISE, RNG, (sc_clock){NULL, NULL}) ==
          SC_ERR_ARG);
    CHECK(sc_session_size() == sizeof(sc_session));
    sc_session zero = {0};
    sc_session_wipe(&zero); /* safe on a zeroed session */
}

int main(void)
{
    memset(PSK, 0xA5, sizeof PSK);
    memset(OTHER_PSK, 0x5A, sizeof OTHER_PSK);
    RUN(test_full_exchange);
    RUN(test_status_comes_first);
    RUN(test_transport_failures);
    RUN(test_handshake_answer_failures);
    RUN(test_wrong_key);
    RUN(test_chunking_a_200kb_frame);
    RUN(test_largest_frame);
    RUN(test_ping_and_pong_queues);
    RUN(test_timeouts);
    RUN(test_plain_suite);
    RUN(test_init_arguments);
    return TEST_REPORT();
}
