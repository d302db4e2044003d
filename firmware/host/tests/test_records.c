/* Records and hello: exact layouts (PROTOCOL.md 3.1 and 4), strict parsing, text rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_test.h"
#include "securecam/sc_protocol.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    if (n > cap) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

static bool encodes_to(const sc_record *rec, const char *hex)
{
    uint8_t want[512], got[512];
    size_t want_len = unhex(hex, want, sizeof want);
    size_t got_len = 0;
    return sc_record_encode(rec, got, sizeof got, &got_len) == SC_OK && got_len == want_len &&
           memcmp(got, want, want_len) == 0;
}

static int parse_hex(const char *hex, sc_record *rec)
{
    static uint8_t buf[512];
    size_t len = unhex(hex, buf, sizeof buf);
    return sc_record_parse(buf, len, rec);
}

static const char FW[] = "securecam-fw/1.0.0";

/* The field-by-field examples of PROTOCOL.md 9.3. */
static void test_layouts_match_the_spec(void)
{
    static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46,
                                   0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0xff, 0xd9};
    sc_record chunk = {.type = SC_REC_FRAME_CHUNK,
                       .u.chunk = {1, 5030000, 5031500, 20, 0, 1, jpeg, sizeof jpeg}};
    CHECK(encodes_to(&chunk, "010000000100000000004cc07000000000004cc64c0000001400000001"
                             "ffd8ffe000104a4649460001010000010001ffd9"));
    sc_record ping = {.type = SC_REC_PING, .u.ping = {1, 1000000000}};
    CHECK(encodes_to(&ping, "0200000001000000003b9aca00"));
    sc_record pong = {.type = SC_REC_PONG, .u.pong = {1, 1000000000, 5012000}};
    CHECK(encodes_to(&pong, "0300000001000000003b9aca0000000000004c7a20"));
    sc_record control = {.type = SC_REC_CONTROL, .u.control = {6, 10, 15, 0}};
    CHECK(encodes_to(&control, "04060a0f00"));
    sc_record status = {.type = SC_REC_STATUS,
                        .u.status = {-55, 5, 12, 25, 640, 480, 180000, 3900000, 5, FW,
                                     sizeof FW - 1, false, 0, false, 0}};
    CHECK(encodes_to(&status, "05c9050c19028001e00002bf20003b8260000000051273656375726563616d2d"
                              "66772f312e302e30"));
    sc_record close = {.type = SC_REC_CLOSE, .u.close = {1000, "camera stopping", 15}};
    CHECK(encodes_to(&close, "0603e80f63616d6572612073746f7070696e67"));

    uint8_t header[SC_CHUNK_HEADER_LEN];
    sc_chunk_header_encode(0x01020304, 0x1112131415161718ull, 0x2122232425262728ull, 0x31323334,
                           0x4142, 0x5152, header);
    uint8_t want[SC_CHUNK_HEADER_LEN];
    unhex("0101020304111213141516171821222324252627283132333441425152", want, sizeof want);
    CHECK_MEM(header, want, sizeof want);
}

/* PROTOCOL.md 4, STATUS extension: the 9.3 STATUS with 12 frames dropped and 2,480 bytes of
 * stack left at least, then each field alone. */
#define STATUS_93 "05c9050c19028001e00002bf20003b8260000000051273656375726563616d2d66772f312e302e30"

static void test_status_extension_layout_matches_the_spec(void)
{
    sc_record status = {.type = SC_REC_STATUS,
                        .u.status = {-55, 5, 12, 25, 640, 480, 180000, 3900000, 5, FW,
                                     sizeof FW - 1, true, 12, true, 2480}};
    CHECK(encodes_to(&status, STATUS_93 "03"
                                        "0000000c"
                                        "000009b0"));
    status.u.status.has_stack_min_free = false;
    CHECK(encodes_to(&status, STATUS_93 "01"
                                        "0000000c"));
    status.u.status.has_frames_dropped = false;
    status.u.status.has_stack_min_free = true;
    CHECK(encodes_to(&status, STATUS_93 "02"
                                        "000009b0"));

    /* A zeroed struct is the v1 layout with no extension, whatever the values say. */
    sc_status zero;
    memset(&zero, 0, sizeof zero);
    zero.frames_dropped = 5;
    zero.stack_min_free = 6;
    sc_record rec = {.type = SC_REC_STATUS, .u.status = zero};
    CHECK(encodes_to(&rec, "05000000000000000000000000000000000000000000"));

    /* And back: the flags say which fields were reported; the wrapped counter is kept. */
    CHECK(parse_hex(STATUS_93 "03ffffffff000009b0", &rec) == SC_OK);
    CHECK(rec.type == SC_REC_STATUS && rec.u.status.firmware_len == sizeof FW - 1);
    CHECK(memcmp(rec.u.status.firmware, FW, sizeof FW - 1) == 0);
    CHECK(rec.u.status.has_frames_dropped && rec.u.status.frames_dropped == 0xffffffffu);
    CHECK(rec.u.status.has_stack_min_free && rec.u.status.stack_min_free == 2480);
    CHECK(parse_hex(STATUS_93 "02000009b0", &rec) == SC_OK);
    CHECK(!rec.u.status.has_frames_dropped && rec.u.status.frames_dropped == 0);
    CHECK(rec.u.status.has_stack_min_free && rec.u.status.stack_min_free == 2480);
    CHECK(parse_hex(STATUS_93, &rec) == SC_OK);
    CHECK(!rec.u.status.has_frames_dropped && !rec.u.status.has_stack_min_free);
    /* An extension after an empty firmware text. */
    CHECK(parse_hex("05c9050c19028001e00002bf20003b82600000000500010000000c", &rec) == SC_OK);
    CHECK(rec.u.status.firmware_len == 0 && rec.u.status.frames_dropped == 12);
    /* Reserved flags (bits 2..7) carry a value each that is skipped, in bit order. */
    CHECK(parse_hex(STATUS_93 "8700000001000000020000000300000004", &rec) == SC_OK);
    CHECK(rec.u.status.frames_dropped == 1 && rec.u.status.stack_min_free == 2);
    CHECK(parse_hex(STATUS_93 "04aabbccdd", &rec) == SC_OK);
    CHECK(!rec.u.status.has_frames_dropped && !rec.u.status.has_stack_min_free);
}

/* Every flags byte with every extension length from 0 to 40 bytes: accepted exactly when the
 * extension is absent, or its flags are not 0 and it is 1 + 4 bytes per set flag. */
static void test_status_extension_length_is_exact(void)
{
    uint8_t buf[SC_STATUS_HEADER_LEN + 41];
    memset(buf, 0, sizeof buf);
    buf[0] = SC_REC_STATUS;
    size_t wrong = 0;
    for (unsigned flags = 0; flags < 256; flags++) {
        unsigned fields = 0;
        for (unsigned bit = 0; bit < 8; bit++) {
            fields += (flags >> bit) & 1u;
        }
        buf[SC_STATUS_HEADER_LEN] = (uint8_t)flags;
        for (size_t ext = 0; ext <= 40; ext++) {
            bool valid = ext == 0 || (flags != 0 && ext == 1 + 4 * (size_t)fields);
            sc_record rec;
            int ret = sc_record_parse(buf, SC_STATUS_HEADER_LEN + ext, &rec);
            if (ret != (valid ? SC_OK : SC_ERR_MALFORMED)) {
                fprintf(stderr, "flags 0x%02x, %zu extension bytes: %d\n", flags, ext, ret);
                wrong++;
            }
        }
    }
    CHECK(wrong == 0);
}

static void test_parse_round_trips(void)
{
    sc_record rec;
    CHECK(parse_hex("010000000100000000004cc07000000000004cc64c0000001400000001ffd8", &rec) ==
          SC_OK);
    CHECK(rec.type == SC_REC_FRAME_CHUNK && rec.u.chunk.seq == 1);
    CHECK(rec.u.chunk.capture_us == 5030000 && rec.u.chunk.send_us == 5031500);
    CHECK(rec.u.chunk.total_len == 20 && rec.u.chunk.index == 0 && rec.u.chunk.count == 1);
    CHECK(rec.u.chunk.data_len == 2 && rec.u.chunk.data[0] == 0xff && rec.u.chunk.data[1] == 0xd8);

    CHECK(parse_hex("02fffffffeffffffffffffffff", &rec) == SC_OK);
    CHECK(rec.type == SC_REC_PING && rec.u.ping.ping_id == 0xfffffffe);
    CHECK(rec.u.ping.sender_time_us == UINT64_MAX);

    CHECK(parse_hex("0300000001000000003b9aca0000000000004c7a20", &rec) == SC_OK);
    CHECK(rec.type == SC_REC_PONG && rec.u.pong.ping_id == 1);
    CHECK(rec.u.pong.echo_time_us == 1000000000 && rec.u.pong.responder_time_us == 5012000);

    CHECK(parse_hex("04060a0ff2", &rec) == SC_OK); /* unknown values are the camera's to judge */
    CHECK(rec.type == SC_REC_CONTROL && rec.u.control.frame_size == 6);
    CHECK(rec.u.control.quality == 10 && rec.u.control.fps_cap == 15);
    CHECK(rec.u.control.suite == 0xf2);

    CHECK(parse_hex("0580050c19028001e00002bf20003b82600000000500", &rec) == SC_OK);
    CHECK(rec.type == SC_REC_STATUS && rec.u.status.rssi_dbm == -128);
    CHECK(rec.u.status.width == 640 && rec.u.status.height == 480);
    CHECK(rec.u.status.free_heap == 180000 && rec.u.status.free_psram == 3900000);
    CHECK(rec.u.status.uptime_s == 5 && rec.u.status.firmware_len == 0);

    CHECK(parse_hex("060fa704e282ac21", &rec) == SC_OK); /* "€!" */
    CHECK(rec.type == SC_REC_CLOSE && rec.u.close.code == 4007);
    CHECK(rec.u.close.reason_len == 4 && memcmp(rec.u.close.reason, "\xe2\x82\xac!", 4) == 0);

    /* The largest chunk and a 255-byte reason (the receiver tolerates up to 255). */
    static uint8_t big[SC_MAX_RECORD + 1];
    memset(big, 0x61, sizeof big);
    big[0] = SC_REC_FRAME_CHUNK;
    CHECK(sc_record_parse(big, SC_MAX_RECORD, &rec) == SC_OK);
    CHECK(rec.u.chunk.data_len == SC_MAX_CHUNK_DATA);
    CHECK(sc_record_parse(big, SC_MAX_RECORD + 1, &rec) == SC_ERR_MALFORMED);
    big[0] = SC_REC_CLOSE;
    big[3] = 255;
    CHECK(sc_record_parse(big, SC_CLOSE_HEADER_LEN + 255, &rec) == SC_OK);
    CHECK(rec.u.close.reason_len == 255);
}

static void test_malformed_records_are_rejected(void)
{
    static const struct {
        const char *hex;
        const char *why;
    } cases[] = {
        {"", "empty"},
        {"00", "type 0"},
        {"07000000000000000000000000", "type 7"},
        {"ff", "type 0xff"},
        {"010000000100000000004cc07000000000004cc64c0000001400000001", "chunk without data"},
        {"01", "chunk header cut"},
        {"020000000100000000000000", "ping 12 bytes"},
        {"0200000001000000000000000000", "ping 14 bytes"},
        {"03000000010000000000000000000000000000", "pong 20 bytes"},
        {"0300000001000000000000000000000000000000000000", "pong 22 bytes"},
        {"04060a0f", "control 4 bytes"},
        {"04060a0f0000", "control 6 bytes"},
        {"05c9050c19028001e00002bf20003b826000000005", "status 21 bytes"},
        {"05c9050c19028001e00002bf20003b8260000000050061", "status text longer than 0"},
        {"05c9050c19028001e00002bf20003b8260000000050361616161", "status length 3, 4 sent"},
        {"05c9050c19028001e00002bf20003b8260000000050161616161", "status length byte 1, 4"},
        {"0603e8", "close 3 bytes"},
        {"0603e8026161ff", "close length byte disagrees"},
        {"0603e80180", "lone continuation byte"},
        {"0603e802c0af", "overlong '/'"},
        {"0603e803e080af", "overlong 3-byte"},
        {"0603e803eda080", "surrogate U+D800"},
        {"0603e804f4908080", "over U+10FFFF"},
        {"0603e802e282", "truncated 3-byte sequence"},
        {"0603e801ff", "0xff is never UTF-8"},
        {"05c9050c19028001e00002bf20003b82600000000502c328", "status: invalid UTF-8"},
        {"05c9050c19028001e00002bf20003b82600000000502c32801000000ff", "bad UTF-8 + extension"},
        {STATUS_93 "00", "status extension with flags 0"},
        {STATUS_93 "01", "status flags without the value"},
        {STATUS_93 "01000000", "frames_dropped cut to 3 bytes"},
        {STATUS_93 "010000000c00", "status extension 1 byte long"},
        {STATUS_93 "030000000c", "two flags, one value"},
        {STATUS_93 "020000000c000009b0", "one flag, two values"},
        {STATUS_93 "0000000000", "flags 0 with a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sc_record rec;
        int ret = parse_hex(cases[i].hex, &rec);
        if (ret != SC_ERR_MALFORMED) {
            fprintf(stderr, "accepted malformed record: %s\n", cases[i].why);
        }
        CHECK(ret == SC_ERR_MALFORMED);
    }
    sc_record rec;
    CHECK(parse_hex("0603e80161", &rec) == SC_OK); /* the well-formed neighbour of the above */
}

static void test_text_is_truncated_on_character_boundaries(void)
{
    char text[300];
    uint8_t out[512];
    size_t len = 0;
    sc_record rec = {.type = SC_REC_CLOSE};

    memset(text, 'x', 200);
    rec.u.close = (sc_close){1000, text, 200};
    CHECK(sc_record_encode(&rec, out, sizeof out, &len) == SC_OK);
    CHECK(len == SC_CLOSE_HEADER_LEN + SC_MAX_TEXT && out[3] == SC_MAX_TEXT);

    /* 122 ASCII + a 3-byte euro sign: the euro sign would end at 125, so it goes. */
    memset(text, 'x', 122);
    memcpy(text + 122, "\xe2\x82\xac", 3);
    rec.u.close = (sc_close){1000, text, 125};
    CHECK(sc_record_encode(&rec, out, sizeof out, &len) == SC_OK);
    CHECK(out[3] == 122 && len == SC_CLOSE_HEADER_LEN + 122);

    /* 120 ASCII + the 3-byte euro sign ends exactly at 123: it stays. */
    memcpy(text + 120, "\xe2\x82\xac" "yyyy", 7);
    rec.u.close = (sc_close){1000, text, 127};
    CHECK(sc_record_encode(&rec, out, sizeof out, &len) == SC_OK);
    CHECK(out[3] == 123 && memcmp(out + 4 + 120, "\xe2\x82\xac", 3) == 0);

    /* A 4-byte character straddling the limit, and invalid input cut before the bad byte. */
    memcpy(text + 120, "\xf0\x9d\x84\x9e", 4);
    rec.u.close = (sc_close){1000, text, 124};
    CHECK(sc_record_encode(&rec, out, sizeof out, &len) == SC_OK);
    CHECK(out[3] == 120);
    rec.u.close = (sc_close){1000, "ok\xffno", 5};
    CHECK(sc_record_encode(&rec, out, sizeof out, &len) == SC_OK);
    CHECK(out[3] == 2 && len == 6);

    /* The same rule for the firmware field of STATUS. */
    memset(text, 'f', 150);
    sc_record status = {.type = SC_REC_STATUS, .u.status = {.firmware = text, .firmware_len = 150}};
    CHECK(sc_record_encode(&status, out, sizeof out, &len) == SC_OK);
    CHECK(len == SC_STATUS_HEADER_LEN + SC_MAX_TEXT && out[21] == SC_MAX_TEXT);
    /* The extension does not shorten the text: the longest STATUS is SC_STATUS_MAX_LEN. */
    status.u.status.has_frames_dropped = true;
    status.u.status.has_stack_min_free = true;
    status.u.status.stack_min_free = 0x01020304;
    CHECK(sc_record_encode(&status, out, sizeof out, &len) == SC_OK);
    CHECK(len == SC_STATUS_MAX_LEN && out[21] == SC_MAX_TEXT);
    CHECK(out[SC_STATUS_HEADER_LEN + SC_MAX_TEXT] == 0x03 && out[len - 1] == 0x04);

    CHECK(sc_utf8_valid((const uint8_t *)"", 0));
    CHECK(sc_utf8_valid((const uint8_t *)"\x00", 1));
    CHECK(sc_utf8_valid((const uint8_t *)"\xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf", 9));
    CHECK(!sc_utf8_valid((const uint8_t *)"\xc1\xbf", 2));
    CHECK(sc_utf8_prefix_len((const uint8_t *)"ab\xc3\xa9", 4, 3) == 2);
}

static void test_encode_limits(void)
{
    uint8_t out[64];
    size_t len = 0;
    static uint8_t data[SC_MAX_CHUNK_DATA + 1];
    sc_record chunk = {.type = SC_REC_FRAME_CHUNK, .u.chunk = {.data = data, .data_len = 0}};
    CHECK(sc_record_encode(&chunk, out, sizeof out, &len) == SC_ERR_ARG);
    chunk.u.chunk.data_len = SC_MAX_CHUNK_DATA + 1;
    static uint8_t big[SC_MAX_RECORD + 64];
    CHECK(sc_record_encode(&chunk, big, sizeof big, &len) == SC_ERR_ARG);
    chunk.u.chunk.data_len = SC_MAX_CHUNK_DATA;
    CHECK(sc_record_encode(&chunk, big, sizeof big, &len) == SC_OK && len == SC_MAX_RECORD);
    CHECK(sc_record_encode(&chunk, big, SC_MAX_RECORD - 1, &len) == SC_ERR_BUFFER);

    sc_record ping = {.type = SC_REC_PING};
    CHECK(sc_record_encode(&ping, out, SC_PING_LEN - 1, &len) == SC_ERR_BUFFER);
    sc_record pong = {.type = SC_REC_PONG};
    CHECK(sc_record_encode(&pong, out, SC_PONG_LEN - 1, &len) == SC_ERR_BUFFER);
    sc_record control = {.type = SC_REC_CONTROL};
    CHECK(sc_record_encode(&control, out, SC_CONTROL_LEN - 1, &len) == SC_ERR_BUFFER);
    sc_record status = {.type = SC_REC_STATUS, .u.status = {.firmware = FW, .firmware_len = 18}};
    CHECK(sc_record_encode(&status, out, SC_STATUS_HEADER_LEN + 17, &len) == SC_ERR_BUFFER);
    /* With the extension, a buffer one byte short is refused, never filled with a shorter
     * firmware text. */
    status.u.status.has_frames_dropped = true;
    status.u.status.has_stack_min_free = true;
    CHECK(sc_record_encode(&status, out, SC_STATUS_HEADER_LEN + 18 + 8, &len) == SC_ERR_BUFFER);
    CHECK(sc_record_encode(&status, out, SC_STATUS_HEADER_LEN + 8, &len) == SC_ERR_BUFFER);
    CHECK(sc_record_encode(&status, out, SC_STATUS_HEADER_LEN + 18 + 9, &len) == SC_OK);
    CHECK(len == SC_STATUS_HEADER_LEN + 18 + 9);
    sc_record close = {.type = SC_REC_CLOSE, .u.close = {1000, "bye", 3}};
    CHECK(sc_record_encode(&close, out, SC_CLOSE_HEADER_LEN + 2, &len) == SC_ERR_BUFFER);
    sc_record unknown = {.type = (sc_record_type)9};
    CHECK(sc_record_encode(&unknown, out, sizeof out, &len) == SC_ERR_ARG);
}

static void test_hello(void)
{
    uint8_t out[64];
    size_t len = 0;
    uint8_t want[16];
    size_t want_len = unhex("5343414d01010463616d31", want, sizeof want);
    CHECK(sc_hello_encode(SC_SUITE_NOISE, "cam1", out, sizeof out, &len) == SC_OK);
    CHECK(len == want_len && memcmp(out, want, len) == 0);
    want_len = unhex("5343414d01020463616d31", want, sizeof want);
    CHECK(sc_hello_encode(SC_SUITE_PLAIN, "cam1", out, sizeof out, &len) == SC_OK);
    CHECK(len == want_len && memcmp(out, want, len) == 0);
    CHECK(sc_hello_encode(SC_SUITE_NOISE, "cam1", out, 10, &len) == SC_ERR_BUFFER);
    CHECK(sc_hello_encode((sc_suite)3, "cam1", out, sizeof out, &len) == SC_ERR_ARG);

    static const char *const invalid[] = {"", "-cam", ".cam", "_cam", "cam!", "ca m", "cäm",
                                          "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        CHECK(!sc_device_id_valid(invalid[i], strlen(invalid[i])));
        CHECK(sc_hello_encode(SC_SUITE_NOISE, invalid[i], out, sizeof out, &len) == SC_ERR_ARG);
    }
    static const char *const valid[] = {"a", "0", "Cam-1.front_door",
                                        "abcdefghijklmnopqrstuvwxyz012345"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        CHECK(sc_device_id_valid(valid[i], strlen(valid[i])));
        CHECK(sc_hello_encode(SC_SUITE_NOISE, valid[i], out, sizeof out, &len) == SC_OK);
        CHECK(len == 7 + strlen(valid[i]));
    }

    /* Parsing in the app's order (3.1). */
    sc_hello hello;
    uint8_t msg[128];
    size_t n = unhex("5343414d01010463616d31aabb", msg, sizeof msg);
    CHECK(sc_hello_parse(msg, n, &hello) == SC_OK);
    CHECK(hello.suite == SC_SUITE_NOISE && strcmp(hello.device_id, "cam1") == 0);
    CHECK(hello.hello_len == 11);
    static const struct {
        const char *hex;
        int want;
    } cases[] = {
        {"5343414d0101", SC_ERR_BAD_HELLO},         /* shorter than 7 */
        {"5343414e01010463616d31", SC_ERR_BAD_HELLO}, /* magic */
        {"5343414d02090463616d31", SC_ERR_VERSION},   /* version before suite */
        {"5343414d0209", SC_ERR_BAD_HELLO},           /* length before version */
        {"5343414d01030463616d31", SC_ERR_BAD_HELLO}, /* suite 3 */
        {"5343414d01000463616d31", SC_ERR_BAD_HELLO}, /* suite 0 */
        {"5343414d010100", SC_ERR_BAD_HELLO},         /* id_len 0 */
        {"5343414d01012161", SC_ERR_BAD_HELLO},       /* id_len 33 */
        {"5343414d01010563616d31", SC_ERR_BAD_HELLO}, /* id cut short */
        {"5343414d0101042d616d31", SC_ERR_BAD_HELLO}, /* starts with '-' */
        {"5343414d01010463c3a431", SC_ERR_BAD_HELLO}, /* not ASCII */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = unhex(cases[i].hex, msg, sizeof msg);
        CHECK(sc_hello_parse(msg, n, &hello) == cases[i].want);
    }
    CHECK(sc_close_code_for(SC_ERR_BAD_HELLO) == 4001);
    CHECK(sc_close_code_for(SC_ERR_VERSION) == 4002);
}

static void test_codes_and_fingerprint(void)
{
    CHECK(sc_close_code_for(SC_ERR_AUTH) == SC_CLOSE_DECRYPT_FAILED);
    CHECK(sc_close_code_for(SC_ERR_MALFORMED) == SC_CLOSE_MALFORMED_RECORD);
    CHECK(sc_close_code_for(SC_ERR_REJECTED) == SC_CLOSE_SERVER_REJECTED);
    CHECK(sc_close_code_for(SC_ERR_TOO_LONG) == SC_CLOSE_MESSAGE_TOO_BIG);
    CHECK(sc_close_code_for(SC_ERR_CRYPTO) == SC_CLOSE_INTERNAL_ERROR);
    CHECK(sc_close_code_for(SC_ERR_ARG) == SC_CLOSE_INTERNAL_ERROR);
    static const uint16_t rejections[] = {4001, 4002, 4003, 4004, 4005, 4015};
    for (size_t i = 0; i < sizeof rejections / sizeof rejections[0]; i++) {
        CHECK(sc_close_code_is_rejection(rejections[i]));
    }
    static const uint16_t retry[] = {1000, 1001, 1006, 4006, 4007, 4011, 4013, 4014, 4016};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) {
        CHECK(!sc_close_code_is_rejection(retry[i]));
    }

    uint8_t psk[32];
    for (int i = 0; i < 32; i++) {
        psk[i] = (uint8_t)i;
    }
    uint8_t raw[8];
    char text[20];
    CHECK(sc_psk_fingerprint(psk, raw, text) == SC_OK);
    CHECK(strcmp(text, "e4a5-37e2-d346-a02b") == 0);
    CHECK(raw[0] == 0xe4 && raw[7] == 0x2b);
}

int main(void)
{
    RUN(test_layouts_match_the_spec);
    RUN(test_status_extension_layout_matches_the_spec);
    RUN(test_status_extension_length_is_exact);
    RUN(test_parse_round_trips);
    RUN(test_malformed_records_are_rejected);
    RUN(test_text_is_truncated_on_character_boundaries);
    RUN(test_encode_limits);
    RUN(test_hello);
    RUN(test_codes_and_fingerprint);
    return TEST_REPORT();
}
