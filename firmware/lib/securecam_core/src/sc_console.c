/* The provisioning console: Improv serial RPCs and the SecureCam vendor extension. */
#include "securecam/sc_console.h"

#include <string.h>

#include "securecam/sc_crypto.h"

/* ---- output ------------------------------------------------------------------------- */

/* Send the packet encoded in c->out, followed by the newline line-based clients expect. */
static void emit(sc_console *c, size_t len)
{
    if (len == 0) {
        return; /* an encoder refused: a bug, but never worth sending a broken packet */
    }
    c->out[len] = '\n';
    c->cb.write(c->cb.ctx, c->out, len + 1);
    /* Results never carry secrets, but the buffer is cheap to clear. */
    memset(c->out, 0, len + 1);
}

static void send_error(sc_console *c, uint8_t error)
{
    emit(c, sc_improv_encode_error(error, c->out, sizeof c->out - 1));
}

static void set_state(sc_console *c, uint8_t state)
{
    c->state = state;
    emit(c, sc_improv_encode_state(state, c->out, sizeof c->out - 1));
}

static void send_result(sc_console *c, uint8_t command, const sc_improv_str *strings,
                        size_t count)
{
    emit(c, sc_improv_encode_result(command, strings, count, c->out, sizeof c->out - 1));
}

static sc_improv_str cstr(const char *s)
{
    sc_improv_str r = {(const uint8_t *)s, s != NULL ? strlen(s) : 0};
    if (s == NULL) {
        r.ptr = (const uint8_t *)"";
    }
    return r;
}

/* The provisioned answer: the server URL if one is configured, else an empty list (the
 * Improv spec allows omitting the URL). */
static void send_url_result(sc_console *c, uint8_t command)
{
    char url[SC_CONFIG_URL_MAX];
    size_t n = sc_config_server_url(&c->config, url, sizeof url);
    sc_improv_str s = {(const uint8_t *)url, n};
    send_result(c, command, &s, n > 0 ? 1 : 0);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

sc_config_status sc_console_init(sc_console *c, const sc_console_callbacks *cb,
                                 const sc_console_info *info)
{
    sc_console_wipe(c);
    c->cb = *cb;
    c->info = *info;
    sc_improv_parser_init(&c->parser);
    c->state = SC_IMPROV_STATE_READY;
    return sc_config_load(&c->config, c->cb.store);
}

void sc_console_wipe(sc_console *c)
{
    sc_wipe(c, sizeof *c);
}

uint8_t sc_console_state(const sc_console *c)
{
    return c->state;
}

const sc_config *sc_console_config(const sc_console *c)
{
    return &c->config;
}

/* ---- Improv commands ---------------------------------------------------------------- */

static void finish_wifi(sc_console *c, bool connected)
{
    c->connecting = false;
    if (!connected) {
        set_state(c, SC_IMPROV_STATE_READY);
        send_error(c, SC_IMPROV_ERROR_UNABLE_TO_CONNECT);
    } else {
        sc_config next = c->config;
        /* Both were validated on arrival, so these copies cannot fail. */
        (void)sc_config_set_string(next.wifi_ssid, SC_CONFIG_SSID_MAX,
                                   (const uint8_t *)c->pending_ssid, strlen(c->pending_ssid));
        (void)sc_config_set_string(next.wifi_pass, SC_CONFIG_PASS_MAX,
                                   (const uint8_t *)c->pending_pass, strlen(c->pending_pass));
        if (sc_config_save(&next, &c->config, c->cb.store) == SC_CONFIG_OK) {
            c->config = next;
            set_state(c, SC_IMPROV_STATE_PROVISIONED);
            send_url_result(c, SC_IMPROV_CMD_WIFI_SETTINGS);
        } else {
            /* Connected, but it would not survive a reboot: say so rather than succeed. */
            set_state(c, SC_IMPROV_STATE_PROVISIONED);
            send_error(c, SC_IMPROV_ERROR_UNKNOWN);
        }
        sc_config_wipe(&next);
    }
    sc_wipe(c->pending_ssid, sizeof c->pending_ssid);
    sc_wipe(c->pending_pass, sizeof c->pending_pass);
}

static void handle_wifi_settings(sc_console *c, const uint8_t *payload, size_t len)
{
    sc_improv_str s[2];
    if (sc_improv_strings_split(payload, len, s, 2) != 2 ||
        !sc_config_valid_ssid(s[0].ptr, s[0].len) ||
        !sc_config_valid_wifi_pass(s[1].ptr, s[1].len)) {
        send_error(c, SC_IMPROV_ERROR_INVALID_RPC);
        return;
    }
    if (c->connecting) {
        send_error(c, SC_IMPROV_ERROR_UNKNOWN); /* one attempt at a time */
        return;
    }
    send_error(c, SC_IMPROV_ERROR_NONE);
    (void)sc_config_set_string(c->pending_ssid, SC_CONFIG_SSID_MAX, s[0].ptr, s[0].len);
    (void)sc_config_set_string(c->pending_pass, SC_CONFIG_PASS_MAX, s[1].ptr, s[1].len);
    c->connecting = true;
    set_state(c, SC_IMPROV_STATE_PROVISIONING);
    sc_wifi_attempt r = c->cb.wifi_connect(c->cb.ctx, c->pending_ssid, c->pending_pass);
    if (r != SC_WIFI_PENDING) {
        finish_wifi(c, r == SC_WIFI_CONNECTED);
    }
}

static void handle_get_state(sc_console *c)
{
    send_error(c, SC_IMPROV_ERROR_NONE);
    set_state(c, c->state);
    if (c->state == SC_IMPROV_STATE_PROVISIONED) {
        send_url_result(c, SC_IMPROV_CMD_GET_STATE);
    }
}

static void handle_get_info(sc_console *c)
{
    sc_improv_str s[4] = {cstr(c->info.firmware_name), cstr(c->info.firmware_version),
                          cstr(c->info.hardware), cstr(c->config.device_name)};
    send_error(c, SC_IMPROV_ERROR_NONE);
    send_result(c, SC_IMPROV_CMD_GET_INFO, s, 4);
}

/* Decimal text of value into out (cap bytes incl. NUL); truncated rather than overrun. */
static void format_int(char *out, size_t cap, long value)
{
    char digits[24];
    size_t n = 0;
    unsigned long v = value < 0 ? 0UL - (unsigned long)value : (unsigned long)value;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < sizeof digits);
    size_t o = 0;
    if (value < 0 && o + 1 < cap) {
        out[o++] = '-';
    }
    while (n > 0 && o + 1 < cap) {
        out[o++] = digits[--n];
    }
    out[o] = '\0';
}

static void handle_scan(sc_console *c)
{
    send_error(c, SC_IMPROV_ERROR_NONE);
    memset(c->networks, 0, sizeof c->networks);
    size_t n = c->cb.wifi_scan(c->cb.ctx, c->networks, SC_CONSOLE_MAX_NETWORKS);
    if (n > SC_CONSOLE_MAX_NETWORKS) {
        n = SC_CONSOLE_MAX_NETWORKS;
    }
    for (size_t i = 0; i < n; i++) {
        sc_wifi_network *net = &c->networks[i];
        net->ssid[SC_CONFIG_SSID_MAX] = '\0'; /* never trust a callback with a bound */
        char rssi[6];
        format_int(rssi, sizeof rssi, net->rssi);
        sc_improv_str s[3] = {cstr(net->ssid), cstr(rssi), cstr(net->secured ? "YES" : "NO")};
        send_result(c, SC_IMPROV_CMD_SCAN, s, 3);
    }
    send_result(c, SC_IMPROV_CMD_SCAN, NULL, 0); /* the empty result ends the list */
}

static void handle_device_name(sc_console *c, const uint8_t *payload, size_t len)
{
    if (len > 0) {
        if (!sc_config_valid_device_name(payload, len)) {
            send_error(c, SC_IMPROV_ERROR_INVALID_RPC);
            return;
        }
        send_error(c, SC_IMPROV_ERROR_NONE);
        sc_config next = c->config;
        (void)sc_config_set_string(next.device_name, SC_CONFIG_NAME_MAX, payload, len);
        sc_config_status st = sc_config_save(&next, &c->config, c->cb.store);
        if (st == SC_CONFIG_OK) {
            c->config = next;
        }
        sc_config_wipe(&next);
        if (st != SC_CONFIG_OK) {
            send_error(c, SC_IMPROV_ERROR_UNKNOWN);
            return;
        }
    } else {
        send_error(c, SC_IMPROV_ERROR_NONE);
    }
    sc_improv_str s = cstr(c->config.device_name);
    send_result(c, SC_IMPROV_CMD_DEVICE_NAME, &s, 1);
}

/* ---- the SecureCam extension -------------------------------------------------------- */

static void ext_ok(sc_console *c, uint8_t command)
{
    sc_improv_str s = cstr("OK");
    send_result(c, command, &s, 1);
}

/* Details name the field and the rule, never the rejected value: it may be a secret. */
static void ext_error(sc_console *c, uint8_t command, const char *code, const char *detail)
{
    sc_improv_str s[3] = {cstr("ERR"), cstr(code), cstr(detail)};
    send_result(c, command, s, 3);
}

/* Append "name=value" to buf at *used and record it as the next string. */
static void add_field(char *buf, size_t cap, size_t *used, sc_improv_str *strings,
                      size_t *count, const char *name, const char *value)
{
    size_t nl = strlen(name);
    size_t vl = strlen(value);
    if (*used + nl + 1 + vl > cap) {
        return; /* cannot happen with the sizes in sc_config.h; the test checks the max */
    }
    char *start = buf + *used;
    memcpy(start, name, nl);
    start[nl] = '=';
    memcpy(start + nl + 1, value, vl);
    *used += nl + 1 + vl;
    strings[*count].ptr = (const uint8_t *)start;
    strings[*count].len = nl + 1 + vl;
    (*count)++;
}

static void send_config(sc_console *c, uint8_t command)
{
    const sc_config *cfg = &c->config;
    char buf[SC_IMPROV_MAX_RPC_PAYLOAD];
    size_t used = 0;
    sc_improv_str s[10];
    size_t n = 0;
    char num[6];
    char fp[SC_CONFIG_FINGERPRINT_SIZE] = "";

    s[n++] = cstr("OK");
    add_field(buf, sizeof buf, &used, s, &n, "ssid", cfg->wifi_ssid);
    add_field(buf, sizeof buf, &used, s, &n, "pass", cfg->wifi_pass[0] != '\0' ? "set" : "unset");
    add_field(buf, sizeof buf, &used, s, &n, "host", cfg->server_host);
    format_int(num, sizeof num, cfg->server_port);
    add_field(buf, sizeof buf, &used, s, &n, "port", num);
    add_field(buf, sizeof buf, &used, s, &n, "name", cfg->device_name);
    if (cfg->has_key && !sc_config_key_fingerprint(cfg->key, fp)) {
        ext_error(c, command, "internal", "fingerprint unavailable");
        return;
    }
    add_field(buf, sizeof buf, &used, s, &n, "key_fp", fp);
    format_int(num, sizeof num, cfg->frame_size);
    add_field(buf, sizeof buf, &used, s, &n, "frame_size", num);
    format_int(num, sizeof num, cfg->jpeg_quality);
    add_field(buf, sizeof buf, &used, s, &n, "quality", num);
    format_int(num, sizeof num, cfg->fps_cap);
    add_field(buf, sizeof buf, &used, s, &n, "fps_cap", num);
    send_result(c, command, s, n);
}

static void handle_set_config(sc_console *c, uint8_t command, const uint8_t *body, size_t len)
{
    if (len == 0) {
        ext_error(c, command, "bad_request", "no fields");
        return;
    }
    sc_config next = c->config;
    bool seen[SC_EXT_TAG_FPS_CAP + 1] = {false};
    const char *code = NULL;
    const char *detail = NULL;

    for (size_t o = 0; o < len && code == NULL;) {
        if (len - o < 2 || body[o + 1] > len - o - 2) {
            code = "bad_request";
            detail = "truncated field";
            break;
        }
        uint8_t tag = body[o];
        const uint8_t *v = body + o + 2;
        size_t vlen = body[o + 1];
        o += 2 + vlen;
        if (tag == 0 || tag > SC_EXT_TAG_FPS_CAP) {
            code = "unknown_field";
            detail = "tags are 0x01-0x07";
            break;
        }
        if (seen[tag]) {
            code = "duplicate_field";
            detail = "each tag at most once";
            break;
        }
        seen[tag] = true;
        switch (tag) {
        case SC_EXT_TAG_SERVER_HOST:
            if (!sc_config_valid_host(v, vlen) ||
                !sc_config_set_string(next.server_host, SC_CONFIG_HOST_MAX, v, vlen)) {
                code = "invalid_value";
                detail = "server_host: 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit";
            }
            break;
        case SC_EXT_TAG_SERVER_PORT: {
            uint32_t port = vlen == 2 ? ((uint32_t)v[0] << 8) | v[1] : 0;
            if (!sc_config_valid_port(port)) {
                code = "invalid_value";
                detail = "server_port: 2 bytes big-endian, 1-65535";
            } else {
                next.server_port = (uint16_t)port;
            }
            break;
        }
        case SC_EXT_TAG_DEVICE_NAME:
            if (!sc_config_valid_device_name(v, vlen) ||
                !sc_config_set_string(next.device_name, SC_CONFIG_NAME_MAX, v, vlen)) {
                code = "invalid_value";
                detail = "device_name: 1-32 of A-Z a-z 0-9 . _ -, starting with a letter or digit";
            }
            break;
        case SC_EXT_TAG_KEY:
            if (vlen != SC_CONFIG_KEY_LEN) {
                code = "invalid_value";
                detail = "key: exactly 32 bytes";
            } else {
                memcpy(next.key, v, SC_CONFIG_KEY_LEN);
                next.has_key = true;
            }
            break;
        case SC_EXT_TAG_FRAME_SIZE:
            if (vlen != 1 || !sc_config_valid_frame_size(v[0])) {
                code = "invalid_value";
                detail = "frame_size: 1 byte, 1-10";
            } else {
                next.frame_size = v[0];
            }
            break;
        case SC_EXT_TAG_JPEG_QUALITY:
            if (vlen != 1 || !sc_config_valid_jpeg_quality(v[0])) {
                code = "invalid_value";
                detail = "quality: 1 byte, 4-63";
            } else {
                next.jpeg_quality = v[0];
            }
            break;
        case SC_EXT_TAG_FPS_CAP:
            if (vlen != 1 || !sc_config_valid_fps_cap(v[0])) {
                code = "invalid_value";
                detail = "fps_cap: 1 byte, 1-255";
            } else {
                next.fps_cap = v[0];
            }
            break;
        default: break;
        }
    }
    /* All or nothing: one bad field leaves the whole configuration as it was. */
    if (code == NULL && sc_config_save(&next, &c->config, c->cb.store) != SC_CONFIG_OK) {
        code = "store_failed";
        detail = "could not save the configuration";
    }
    if (code == NULL) {
        c->config = next;
        ext_ok(c, command);
    } else {
        ext_error(c, command, code, detail);
    }
    sc_config_wipe(&next);
}

static void handle_extension(sc_console *c, uint8_t command, const uint8_t *payload, size_t len)
{
    /* The prefix marks the command as ours: a future Improv command that happens to use
     * this number is answered "unknown", not misread as a configuration change. */
    if (len < SC_EXT_PREFIX_LEN || payload[0] != SC_EXT_MAGIC_0 || payload[1] != SC_EXT_MAGIC_1) {
        send_error(c, SC_IMPROV_ERROR_UNKNOWN_RPC);
        return;
    }
    send_error(c, SC_IMPROV_ERROR_NONE);
    if (payload[2] != SC_EXT_VERSION) {
        ext_error(c, command, "unsupported_version", "extension version 1 only");
        return;
    }
    const uint8_t *body = payload + SC_EXT_PREFIX_LEN;
    size_t blen = len - SC_EXT_PREFIX_LEN;
    switch (command) {
    case SC_EXT_CMD_GET_CONFIG:
        if (blen != 0) {
            ext_error(c, command, "bad_request", "GET_CONFIG takes no fields");
        } else {
            send_config(c, command);
        }
        break;
    case SC_EXT_CMD_SET_CONFIG:
        handle_set_config(c, command, body, blen);
        break;
    case SC_EXT_CMD_REBOOT:
        if (blen != 0) {
            ext_error(c, command, "bad_request", "REBOOT takes no fields");
        } else if (c->cb.reboot == NULL) {
            ext_error(c, command, "unsupported", "this build cannot reboot");
        } else {
            ext_ok(c, command);
            c->halted = true;
            c->cb.reboot(c->cb.ctx);
        }
        break;
    case SC_EXT_CMD_ERASE_CONFIG:
        if (blen != 0) {
            ext_error(c, command, "bad_request", "ERASE_CONFIG takes no fields");
        } else if (sc_config_erase(c->cb.store) != SC_CONFIG_OK) {
            ext_error(c, command, "store_failed", "could not erase the configuration");
        } else {
            sc_config_wipe(&c->config);
            sc_config_defaults(&c->config);
            ext_ok(c, command);
            if (c->state == SC_IMPROV_STATE_PROVISIONED) {
                set_state(c, SC_IMPROV_STATE_READY);
            }
        }
        break;
    default:
        ext_error(c, command, "unknown_command", "commands are 0xE0-0xE3");
        break;
    }
}

/* ---- dispatch ----------------------------------------------------------------------- */

static void handle_packet(sc_console *c, const sc_improv_packet *packet)
{
    if (packet->type != SC_IMPROV_TYPE_RPC_COMMAND) {
        /* Device-to-client types coming back (an echoing terminal, two devices wired
         * together) are ignored so they cannot start an error ping-pong. */
        return;
    }
    uint8_t command;
    const uint8_t *payload;
    size_t len;
    if (!sc_improv_rpc_split(packet, &command, &payload, &len)) {
        send_error(c, SC_IMPROV_ERROR_INVALID_RPC);
        return;
    }
    switch (command) {
    case SC_IMPROV_CMD_WIFI_SETTINGS: handle_wifi_settings(c, payload, len); break;
    case SC_IMPROV_CMD_GET_STATE: handle_get_state(c); break;
    case SC_IMPROV_CMD_GET_INFO: handle_get_info(c); break;
    case SC_IMPROV_CMD_SCAN: handle_scan(c); break;
    case SC_IMPROV_CMD_DEVICE_NAME: handle_device_name(c, payload, len); break;
    default:
        if (command >= SC_EXT_CMD_FIRST && command <= SC_EXT_CMD_LAST) {
            handle_extension(c, command, payload, len);
        } else {
            send_error(c, SC_IMPROV_ERROR_UNKNOWN_RPC);
        }
        break;
    }
}

void sc_console_feed(sc_console *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (!c->halted) {
        size_t used = 0;
        sc_improv_event ev =
            sc_improv_parser_feed(&c->parser, data != NULL ? data + off : NULL, len - off,
                                  &used, &c->packet);
        off += used;
        if (ev == SC_IMPROV_NEED_MORE) {
            break;
        }
        if (ev == SC_IMPROV_BAD_CHECKSUM) {
            send_error(c, SC_IMPROV_ERROR_INVALID_RPC);
        } else {
            handle_packet(c, &c->packet);
            /* The packet may have carried a password or the key. */
            sc_wipe(&c->packet, sizeof c->packet);
        }
    }
}

void sc_console_idle(sc_console *c)
{
    if (c->halted) {
        return;
    }
    if (sc_improv_parser_abandon(&c->parser) == SC_IMPROV_ABANDONED_PACKET) {
        send_error(c, SC_IMPROV_ERROR_INVALID_RPC);
    }
    sc_console_feed(c, NULL, 0);
}

void sc_console_wifi_result(sc_console *c, bool connected)
{
    if (c->connecting) {
        finish_wifi(c, connected);
    }
}

void sc_console_set_wifi_connected(sc_console *c, bool connected)
{
    if (c->connecting) {
        return;
    }
    uint8_t state = connected ? SC_IMPROV_STATE_PROVISIONED : SC_IMPROV_STATE_READY;
    if (state != c->state) {
        set_state(c, state);
    }
}
