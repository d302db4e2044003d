/* docs/PROTOCOL.md section 9, byte for byte: the C camera session (and a C stand-in for the
 * app) reproduce every labelled hex line of the worked example from its fixed inputs.
 *
 * The document is parsed at run time (path from SC_PROTOCOL_MD, else the one gen_vectors.py
 * recorded), so this always checks the document as it is now. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_paths.h"
#include "sc_test.h"
#include "securecam/sc_noise.h"
#include "securecam/sc_protocol.h"

/* ------------------------------------------------------------------ document parsing */

#define MAX_LABELS 64

static struct {
    char label[48];
    uint8_t *bytes;
    size_t len;
    bool used; /* every label must be reproduced or consumed as an input */
} labels[MAX_LABELS];
static size_t label_count;

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1; /* the document uses lowercase only */
}

/* One fenced line "label: hex"; false when it is anything else. */
static bool parse_line(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && ((line[i] >= 'a' && line[i] <= 'z') || (line[i] >= '0' && line[i] <= '9') ||
                       line[i] == '_')) {
        i++;
    }
    if (i == 0 || i >= 48 || len - i < 2 || line[i] != ':' || line[i + 1] != ' ') {
        return false;
    }
    const char *hex = line + i + 2;
    size_t hex_len = len - i - 2;
    if (hex_len % 2 != 0 || label_count == MAX_LABELS) {
        return false;
    }
    uint8_t *bytes = malloc(hex_len / 2 + 1);
    if (bytes == NULL) {
        return false;
    }
    for (size_t j = 0; j < hex_len / 2; j++) {
        int hi = hex_digit(hex[2 * j]);
        int lo = hex_digit(hex[2 * j + 1]);
        if (hi < 0 || lo < 0) {
            free(bytes);
            return false;
        }
        bytes[j] = (uint8_t)(hi << 4 | lo);
    }
    for (size_t k = 0; k < label_count; k++) {
        if (strlen(labels[k].label) == i && memcmp(labels[k].label, line, i) == 0) {
            free(bytes);
            return false; /* duplicate label */
        }
    }
    memcpy(labels[label_count].label, line, i);
    labels[label_count].label[i] = '\0';
    labels[label_count].bytes = bytes;
    labels[label_count].len = hex_len / 2;
    label_count++;
    return true;
}

static bool load_document(void)
{
    /* $SC_PROTOCOL_MD, the path recorded at build time, or relative to firmware/host. */
    const char *candidates[] = {getenv("SC_PROTOCOL_MD"), SC_PROTOCOL_MD_PATH,
                                "../../docs/PROTOCOL.md"};
    const char *path = NULL;
    FILE *f = NULL;
    for (size_t i = 0; f == NULL && i < sizeof candidates / sizeof candidates[0]; i++) {
        path = candidates[i];
        f = path != NULL ? fopen(path, "rb") : NULL;
    }
    if (f == NULL) {
        fprintf(stderr, "cannot open docs/PROTOCOL.md (set SC_PROTOCOL_MD)\n");
        return false;
    }
    static char line[4096];
    bool in_fence = false;
    bool ok = true;
    size_t line_no = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line_no++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
            fprintf(stderr, "%s:%zu: line too long\n", path, line_no);
            ok = false;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (!in_fence) {
            in_fence = strcmp(line, "```text") == 0;
        } else if (strcmp(line, "```") == 0) {
            in_fence = false;
        } else if (!parse_line(line, len)) {
            fprintf(stderr, "%s:%zu: not a 'label: hex' line: %s\n", path, line_no, line);
            ok = false;
        }
    }
    fclose(f);
    return ok && !in_fence;
}

static const uint8_t *doc(const char *label, size_t *len)
{
    for (size_t i = 0; i < label_count; i++) {
        if (strcmp(labels[i].label, label) == 0) {
            labels[i].used = true;
            *len = labels[i].len;
            return labels[i].bytes;
        }
    }
    fprintf(stderr, "label %s missing from the document\n", label);
    *len = 0;
    return NULL;
}

/* The document's bytes for `label` equal data[0..len]. */
static bool doc_is(const char *label, const uint8_t *data, size_t len)
{
    size_t want_len = 0;
    const uint8_t *want = doc(label, &want_len);
    bool same = want != NULL && want_len == len && memcmp(want, data, len) == 0;
    if (!same) {
        fprintf(stderr, "%s differs: got ", label);
        for (size_t i = 0; i < len; i++) {
            fprintf(stderr, "%02x", data[i]);
        }
        fprintf(stderr, "\n");
    }
    return same;
}

/* Copy the document's bytes for `label` into buf; returns the length (0 when missing). */
static size_t doc_copy(const char *label, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    const uint8_t *bytes = doc(label, &len);
    if (bytes == NULL || len > cap) {
        return 0;
    }
    memcpy(buf, bytes, len);
    return len;
}

/* -------------------------------------------------------------------- fixed inputs */

#define CAMERA_T_HELLO 5000000u
#define CAMERA_T_STATUS 5010000u
#define CAMERA_T_PONG 5012000u
#define CAMERA_T_CAPTURE 5030000u
#define CAMERA_T_SEND 5031500u
#define CAMERA_T_CLOSE 5100000u
#define APP_T_HELLO 1000000000u

/* Hands out `fixed` for the first 32-byte request (the session's ephemeral key), then
 * deterministic filler for X25519 blinding. */
typedef struct {
    const uint8_t *fixed;
    bool used;
    uint64_t state;
} fixed_rng;

static int fixed_rng_fill(void *ctx, unsigned char *buf, size_t len)
{
    fixed_rng *r = ctx;
    if (!r->used && len == 32) {
        memcpy(buf, r->fixed, 32);
        r->used = true;
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        r->state = r->state * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (unsigned char)(r->state >> 56);
    }
    return 0;
}

static uint64_t manual_clock(void *ctx)
{
    return *(uint64_t *)ctx;
}

static uint8_t psk[32], e_camera[32], e_app[32];
static const char FIRMWARE[] = "securecam-fw/1.0.0";
static const char CLOSE_REASON[] = "camera stopping";

/* The example's STATUS reports neither optional field: the record has no extension. */
static const sc_status STATUS = {-55, 5, 12, 25, 640, 480, 180000, 3900000, 5, FIRMWARE,
                                 sizeof FIRMWARE - 1, false, 0, false, 0};

/* --------------------------------------------------------------------------- tests */

static void test_keys(void)
{
    CHECK(doc_copy("psk", psk, sizeof psk) == 32);
    CHECK(doc_copy("e_camera_private", e_camera, sizeof e_camera) == 32);
    CHECK(doc_copy("e_app_private", e_app, sizeof e_app) == 32);
    for (int i = 0; i < 32; i++) { /* the inputs the document states in prose */
        CHECK(psk[i] == i && e_camera[i] == 0x20 + i && e_app[i] == 0x40 + i);
    }
    fixed_rng r = {NULL, true, 1};
    sc_rng rng = {fixed_rng_fill, &r};
    uint8_t pub[32], shared[32], raw[8];
    CHECK(sc_x25519_public(e_camera, pub, rng) == SC_OK);
    CHECK(doc_is("e_camera_public", pub, 32));
    CHECK(sc_x25519_public(e_app, pub, rng) == SC_OK);
    CHECK(doc_is("e_app_public", pub, 32));
    CHECK(sc_x25519_dh(e_camera, pub, shared, rng) == SC_OK);
    CHECK(doc_is("ee_shared_secret", shared, 32));
    char text[20];
    CHECK(sc_psk_fingerprint(psk, raw, text) == SC_OK);
    CHECK(doc_is("psk_fingerprint", raw, 8));
    CHECK(strcmp(text, "e4a5-37e2-d346-a02b") == 0);
}

/* Open `msg` with the document's key for that direction at nonce n: it must be the
 * document's plaintext, and the nonce label must be that nonce. */
static void check_transport(const char *name, const char *key_label, uint64_t n,
                            const uint8_t *msg, size_t len)
{
    char label[64];
    uint8_t key[32], nonce[12];
    static uint8_t plain[1024];
    CHECK(doc_copy(key_label, key, sizeof key) == 32);
    sc_noise_nonce(n, nonce);
    snprintf(label, sizeof label, "%s_nonce", name);
    CHECK(doc_is(label, nonce, sizeof nonce));
    snprintf(label, sizeof label, "%s_message", name);
    CHECK(doc_is(label, msg, len));
    sc_cipher c = {0};
    CHECK(sc_aead_set_key(&c.aead, key) == SC_OK);
    c.has_key = true;
    c.n = n;
    size_t plen = 0;
    CHECK(sc_cipher_decrypt(&c, NULL, 0, msg, len, plain, sizeof plain, &plen) == SC_OK);
    snprintf(label, sizeof label, "%s_plaintext", name);
    CHECK(doc_is(label, plain, plen));
    sc_cipher_wipe(&c);
}

static void test_encrypted_session(void)
{
    uint64_t cam_now = CAMERA_T_HELLO;
    fixed_rng cam_r = {e_camera, false, 7};
    fixed_rng app_r = {e_app, true, 9};
    sc_rng cam_rng = {fixed_rng_fill, &cam_r};
    sc_rng app_rng = {fixed_rng_fill, &app_r};
    sc_session cam;
    CHECK(sc_session_init(&cam, "cam1", psk, SC_SUITE_NOISE, cam_rng,
                          (sc_clock){manual_clock, &cam_now}) == SC_OK);

    /* A bare initiator alongside, for the intermediate hashes the session keeps private. */
    uint8_t hello[SC_HELLO_MAX];
    size_t hello_len = 0;
    CHECK(sc_hello_encode(SC_SUITE_NOISE, "cam1", hello, sizeof hello, &hello_len) == SC_OK);
    CHECK(doc_is("hello", hello, hello_len));
    sc_handshake probe;
    CHECK(sc_handshake_init(&probe, SC_NOISE_NNPSK0, true, hello, hello_len, psk, app_rng) ==
          SC_OK);
    CHECK(doc_is("h_prologue", sc_handshake_hash(&probe), 32));
    CHECK(sc_handshake_set_ephemeral(&probe, e_camera) == SC_OK);
    uint8_t probe_msg[64];
    size_t probe_len = 0;
    CHECK(sc_handshake_write(&probe, NULL, 0, probe_msg, sizeof probe_msg, &probe_len) == SC_OK);
    CHECK(doc_is("h_msg1", sc_handshake_hash(&probe), 32));
    sc_handshake_wipe(&probe);

    uint8_t first[SC_FIRST_MESSAGE_MAX];
    size_t first_len = 0;
    CHECK(sc_session_start(&cam, first, sizeof first, &first_len) == SC_OK);
    CHECK(doc_is("first_message", first, first_len));
    CHECK(first_len == hello_len + 48 && doc_is("noise_msg1", first + hello_len, 48));
    CHECK(sc_session_get_state(&cam) == SC_STATE_WAIT_ANSWER);

    /* The app: responder over the hello as prologue, with its fixed ephemeral. */
    sc_hello parsed;
    CHECK(sc_hello_parse(first, first_len, &parsed) == SC_OK);
    CHECK(parsed.hello_len == hello_len && strcmp(parsed.device_id, "cam1") == 0);
    sc_handshake app;
    CHECK(sc_handshake_init(&app, SC_NOISE_NNPSK0, false, first, parsed.hello_len, psk,
                            app_rng) == SC_OK);
    CHECK(sc_handshake_set_ephemeral(&app, e_app) == SC_OK);
    size_t plen = 0;
    CHECK(sc_handshake_read(&app, first + parsed.hello_len, first_len - parsed.hello_len, NULL, 0,
                            &plen) == SC_OK);
    uint8_t msg2[64];
    size_t msg2_len = 0;
    CHECK(sc_handshake_write(&app, NULL, 0, msg2, sizeof msg2, &msg2_len) == SC_OK);
    CHECK(doc_is("noise_msg2", msg2, msg2_len));
    sc_cipher app_send = {0}, app_recv = {0};
    uint8_t app_hash[32];
    CHECK(sc_handshake_split(&app, &app_send, &app_recv, app_hash) == SC_OK);
    CHECK(doc_is("handshake_hash", app_hash, 32));

    /* App -> camera PING 1 (nonce 0), sealed right after message 2. */
    uint8_t ping_msg[64];
    size_t ping_len = 0;
    uint8_t rec[64];
    size_t rec_len = 0;
    sc_record ping = {.type = SC_REC_PING, .u.ping = {1, APP_T_HELLO}};
    CHECK(sc_record_encode(&ping, rec, sizeof rec, &rec_len) == SC_OK);
    CHECK(sc_cipher_encrypt(&app_send, NULL, 0, rec, rec_len, ping_msg, sizeof ping_msg,
                            &ping_len) == SC_OK);
    check_transport("ping", "k_app_to_camera", 0, ping_msg, ping_len);

    /* The camera verifies message 2 ... */
    cam_now = CAMERA_T_STATUS;
    sc_event ev;
    CHECK(sc_session_receive(&cam, msg2, msg2_len, CAMERA_T_STATUS, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_HANDSHAKE_DONE);
    CHECK(doc_is("handshake_hash", sc_session_handshake_hash(&cam), 32));

    /* ... sends STATUS (nonce 0) ... */
    static uint8_t out[1024];
    size_t out_len = 0;
    CHECK(sc_session_status(&cam, &STATUS, out, sizeof out, &out_len) == SC_OK);
    check_transport("status", "k_camera_to_app", 0, out, out_len);

    /* ... answers the ping, stamped with its arrival (nonce 1) ... */
    cam_now = CAMERA_T_PONG;
    CHECK(sc_session_receive(&cam, ping_msg, ping_len, CAMERA_T_PONG, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_PING && ev.ping.ping_id == 1);
    CHECK(ev.ping.sender_time_us == APP_T_HELLO);
    CHECK(sc_session_pending(&cam) == 1);
    CHECK(sc_session_poll(&cam, out, sizeof out, &out_len) == SC_OK);
    check_transport("pong", "k_camera_to_app", 1, out, out_len);
    CHECK(sc_session_poll(&cam, out, sizeof out, &out_len) == SC_OK && out_len == 0);

    /* ... sends the 20-byte frame in one chunk (nonce 2) ... */
    uint8_t jpeg[32];
    size_t jpeg_len = doc_copy("jpeg", jpeg, sizeof jpeg);
    CHECK(jpeg_len == 20);
    cam_now = CAMERA_T_SEND;
    CHECK(sc_session_frame_begin(&cam, jpeg, jpeg_len, 1, CAMERA_T_CAPTURE, 0) == SC_OK);
    CHECK(sc_session_frame_next_chunk(&cam, out, sizeof out, &out_len) == SC_OK);
    CHECK(!sc_session_frame_active(&cam));
    check_transport("frame_chunk", "k_camera_to_app", 2, out, out_len);

    /* ... receives CONTROL (app nonce 1) ... */
    sc_record control = {.type = SC_REC_CONTROL, .u.control = {6, 10, 15, 0}};
    CHECK(sc_record_encode(&control, rec, sizeof rec, &rec_len) == SC_OK);
    uint8_t control_msg[64];
    size_t control_len = 0;
    CHECK(sc_cipher_encrypt(&app_send, NULL, 0, rec, rec_len, control_msg, sizeof control_msg,
                            &control_len) == SC_OK);
    check_transport("control", "k_app_to_camera", 1, control_msg, control_len);
    CHECK(sc_session_receive(&cam, control_msg, control_len, CAMERA_T_SEND + 20000, &ev) ==
          SC_OK);
    CHECK(ev.type == SC_EVENT_CONTROL && ev.control.frame_size == 6 && ev.control.quality == 10);
    CHECK(ev.control.fps_cap == 15 && ev.control.suite == 0 && ev.switch_suite == 0);

    /* ... and closes (nonce 3). */
    cam_now = CAMERA_T_CLOSE;
    CHECK(sc_session_close(&cam, SC_CLOSE_NORMAL, CLOSE_REASON, out, sizeof out, &out_len) ==
          SC_OK);
    check_transport("close", "k_camera_to_app", 3, out, out_len);
    CHECK(sc_session_get_state(&cam) == SC_STATE_CLOSED);
    CHECK(sc_session_close_code(&cam) == 1000);
    CHECK(strcmp(sc_session_close_reason(&cam), CLOSE_REASON) == 0);

    sc_cipher_wipe(&app_send);
    sc_cipher_wipe(&app_recv);
    sc_session_wipe(&cam);
}

static void test_plain_session(void)
{
    uint64_t cam_now = CAMERA_T_HELLO;
    fixed_rng r = {NULL, true, 3};
    sc_session cam;
    CHECK(sc_session_init(&cam, "cam1", NULL, SC_SUITE_PLAIN, (sc_rng){fixed_rng_fill, &r},
                          (sc_clock){manual_clock, &cam_now}) == SC_OK);
    uint8_t out[256];
    size_t len = 0;
    CHECK(sc_session_start(&cam, out, sizeof out, &len) == SC_OK);
    CHECK(doc_is("plain_hello", out, len));
    sc_event ev;
    CHECK(sc_session_receive(&cam, NULL, 0, CAMERA_T_STATUS, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_HANDSHAKE_DONE);
    CHECK(sc_session_status(&cam, &STATUS, out, sizeof out, &len) == SC_OK);
    CHECK(doc_is("status_plaintext", out, len)); /* plain: the record itself */

    uint8_t ping[32];
    size_t ping_len = doc_copy("plain_ping", ping, sizeof ping);
    CHECK(sc_session_receive(&cam, ping, ping_len, CAMERA_T_PONG, &ev) == SC_OK);
    CHECK(ev.type == SC_EVENT_PING && ev.ping.ping_id == 1);
    CHECK(sc_session_poll(&cam, out, sizeof out, &len) == SC_OK);
    CHECK(doc_is("pong_plaintext", out, len));

    uint8_t jpeg[32];
    size_t jpeg_len = doc_copy("jpeg", jpeg, sizeof jpeg);
    cam_now = CAMERA_T_SEND;
    CHECK(sc_session_frame_begin(&cam, jpeg, jpeg_len, 1, CAMERA_T_CAPTURE, 0) == SC_OK);
    CHECK(sc_session_frame_next_chunk(&cam, out, sizeof out, &len) == SC_OK);
    CHECK(doc_is("plain_frame_chunk", out, len));
    sc_session_wipe(&cam);
}

int main(void)
{
    if (!load_document()) {
        fprintf(stderr, "FAIL: could not read the worked example\n");
        return 1;
    }
    CHECK(label_count >= 30);
    RUN(test_keys);
    RUN(test_encrypted_session);
    RUN(test_plain_session);
    for (size_t i = 0; i < label_count; i++) {
        if (!labels[i].used) {
            fprintf(stderr, "label %s is not checked by this test\n", labels[i].label);
        }
        CHECK(labels[i].used);
    }
    int status = TEST_REPORT();
    for (size_t i = 0; i < label_count; i++) {
        free(labels[i].bytes);
    }
    return status;
}
