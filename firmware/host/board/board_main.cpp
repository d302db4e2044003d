/* securecam-board: the board layer's network half on the host. The real StreamClient,
 * WsClient, ws_codec and core (firmware/src, firmware/lib) stream to a real app through the
 * host model of the ESP32's TCP stack and sensor (host_model.h).
 *
 *   securecam-board --server 127.0.0.1 --port 8765 --name cam --key-file KEY
 *                   (--frames DIR | --frames-by-setting DIR)
 *                   [--frame-size 10] [--quality 12] [--fps-cap 25] [--sensor-fps 15]
 *                   [--rate-kbit 2000] [--rtt-ms 10]
 *                   [--send-buffer 5744] [--dns-ms 20] [--dns-timeout-ms 5000]
 *                   [--wifi-join-ms 300] [--wifi-refuses 1] [--scan-slowdown 1]
 *
 * The key file holds the device key as 64 hex digits. --frames DIR: the sensor serves DIR's
 * *.jpg in name order whatever its settings. --frames-by-setting DIR: JPEGs rendered per frame
 * size and JPEG quality, DIR/WIDTHxHEIGHT/qQUALITY/NNN.jpg (e.g. DIR/640x480/q12/000.jpg); the
 * sensor serves those of its size at the nearest quality (esp_camera_model.cpp).
 *
 * Standard input takes one command a line: "stats" (one JSON line on standard output),
 * "stall 1" / "stall 0" (the app's side stops / resumes reading), "reset" (a reset from the
 * network), "wifi-lose" (the station link drops), "scan" (the console's Wi-Fi scan; one JSON
 * line), "rate KBIT", "quit". The board's UART log goes to standard error. */
#include <Arduino.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "board_compat.h"
#include "board_health.h"
#include "board_log.h"
#include "camera_board.h"
#include "host_model.h"
#include "securecam/sc_config.h"
#include "start_stage.h"
#include "stream.h"
#include "wifi_link.h"

namespace {

CameraBoard g_camera;
WifiLink g_wifi;
StartStage g_start_stage;
StreamClient g_stream;

[[noreturn]] void usage(const char *why)
{
    fprintf(stderr, "securecam-board: %s (see the top of board_main.cpp)\n", why);
    exit(2);
}

std::vector<uint8_t> read_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

bool visible(const std::string &name)
{
    return name[0] != '.';
}

/* The names in dir, sorted, that `keep` accepts. */
template <typename Keep> std::vector<std::string> list_dir(const std::string &dir, Keep keep)
{
    DIR *d = opendir(dir.c_str());
    if (d == nullptr) {
        usage(("cannot open the frames directory " + dir).c_str());
    }
    std::vector<std::string> names;
    while (struct dirent *e = readdir(d)) {
        std::string name = e->d_name;
        if (keep(name)) {
            names.push_back(name);
        }
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<std::vector<uint8_t>> load_jpegs(const std::string &dir)
{
    std::vector<std::vector<uint8_t>> frames;
    for (const std::string &name : list_dir(dir, [](const std::string &n) {
             return n.size() > 4 && n.compare(n.size() - 4, 4, ".jpg") == 0;
         })) {
        frames.push_back(read_file(dir + "/" + name));
    }
    if (frames.empty()) {
        usage(("no .jpg files in " + dir).c_str());
    }
    return frames;
}

/* --frames-by-setting: DIR/WIDTHxHEIGHT/qQUALITY/NNN.jpg, every size one the camera can name. */
void load_frames_by_setting(const std::string &dir)
{
    for (const std::string &size : list_dir(dir, visible)) {
        unsigned width = 0;
        unsigned height = 0;
        char extra = 0;
        bool known = false;
        if (sscanf(size.c_str(), "%ux%u%c", &width, &height, &extra) == 2) {
            for (uint8_t code = 1; code <= 10; code++) {
                const FrameSizeInfo *info = CameraBoard::lookup(code);
                known = known ||
                        (info != nullptr && info->width == width && info->height == height);
            }
        }
        if (!known) {
            usage((dir + "/" + size + " is not a frame size's WIDTHxHEIGHT, such as 640x480")
                      .c_str());
        }
        std::string size_dir = dir + "/" + size;
        for (const std::string &q : list_dir(size_dir, visible)) {
            int quality = -1;
            if (sscanf(q.c_str(), "q%d%c", &quality, &extra) != 1 || quality < 0 ||
                quality > 63) {
                usage((size_dir + "/" + q + " is not qQUALITY, a JPEG quality 0-63 such as q12")
                          .c_str());
            }
            FrameSet set;
            set.width = static_cast<uint16_t>(width);
            set.height = static_cast<uint16_t>(height);
            set.quality = quality;
            set.frames = load_jpegs(size_dir + "/" + q);
            g_sensor.by_setting.push_back(set);
        }
    }
    if (g_sensor.by_setting.empty()) {
        usage("no WIDTHxHEIGHT/qQUALITY directories in --frames-by-setting");
    }
}

void print_list(const char *name, const std::vector<double> &v)
{
    printf("\"%s\": [", name);
    for (size_t i = 0; i < v.size(); i++) {
        printf("%s%.3f", i ? ", " : "", v[i]);
    }
    printf("], ");
}

void print_list(const char *name, const std::vector<uint64_t> &v)
{
    printf("\"%s\": [", name);
    for (size_t i = 0; i < v.size(); i++) {
        printf("%s%llu", i ? ", " : "", static_cast<unsigned long long>(v[i]));
    }
    printf("], ");
}

void print_stats()
{
    const ModelStats &s = g_stats;
    uint64_t captured = 0;
    uint64_t overflowed = 0;
    model_sensor_counts(&captured, &overflowed);
    printf("{");
    printf("\"iterations\": %llu, \"worst_cpu_us\": %llu, \"worst_blocked_us\": %llu, "
           "\"worst_wall_us\": %llu, ",
           static_cast<unsigned long long>(s.iterations),
           static_cast<unsigned long long>(s.worst_cpu_us),
           static_cast<unsigned long long>(s.worst_blocked_us),
           static_cast<unsigned long long>(s.worst_wall_us));
    print_list("pong_wall_ms", s.pong_wall_ms);
    print_list("pong_link_ms", s.pong_link_ms);
    print_list("end_notice_us", s.end_notice_us);
    print_list("end_notice_iterations", s.end_notice_iterations);
    print_list("end_iteration_start_us", s.end_iteration_start_us);
    print_list("connect_at_us", s.connect_at_us);
    printf("\"frames_captured\": %llu, \"frames_started\": %llu, \"frames_dropped\": %lu, "
           "\"frames_overflowed\": %llu, \"bytes_accepted\": %llu, \"bytes_delivered\": %llu, "
           "\"writes\": %llu, \"largest_write\": %llu, \"write_full\": %llu, "
           "\"connects\": %llu, \"sensor_quality\": %d, \"tx_power\": %d, "
           "\"scan_stops\": %llu, \"streaming\": %s}\n",
           static_cast<unsigned long long>(captured),
           static_cast<unsigned long long>(s.frames_started),
           static_cast<unsigned long>(g_stream.frames_dropped()),
           static_cast<unsigned long long>(overflowed),
           static_cast<unsigned long long>(s.bytes_accepted),
           static_cast<unsigned long long>(s.bytes_delivered),
           static_cast<unsigned long long>(s.writes),
           static_cast<unsigned long long>(s.largest_write),
           static_cast<unsigned long long>(s.write_full),
           static_cast<unsigned long long>(s.connects), s.sensor_quality, s.tx_power,
           static_cast<unsigned long long>(s.scan_stops),
           g_stream.streaming() ? "true" : "false");
    fflush(stdout);
}

/* The console's Wi-Fi scan (main.cpp's console_scan), as one loop step: its networks as a
 * JSON line, and the time it held the loop in the stats (worst_blocked_us). */
void scan()
{
    sc_wifi_network found[16];
    model_iteration_begin();
    size_t n = g_wifi.scan(found, 16);
    model_iteration_end();
    printf("{\"networks\": [");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"ssid\": \"%s\", \"rssi\": %d, \"secured\": %s}", i ? ", " : "",
               found[i].ssid, found[i].rssi, found[i].secured ? "true" : "false");
    }
    printf("]}\n");
    fflush(stdout);
}

/* One command line; false on "quit". */
bool command(const std::string &line)
{
    if (line == "stats") {
        print_stats();
    } else if (line == "stall 1" || line == "stall 0") {
        model_link_stall(line == "stall 1");
    } else if (line == "reset") {
        model_link_reset();
    } else if (line == "wifi-lose") {
        model_wifi_lose();
    } else if (line == "scan") {
        scan();
    } else if (line.compare(0, 5, "rate ") == 0) {
        g_link.rate_bytes_per_s = atof(line.c_str() + 5) * 1000.0 / 8.0;
    } else if (line == "quit") {
        return false;
    } else if (!line.empty()) {
        fprintf(stderr, "securecam-board: unknown command \"%s\"\n", line.c_str());
    }
    return true;
}

/* Commands waiting on standard input; false on "quit" or end of input. */
bool read_commands(std::string *pending)
{
    char buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) {
        return false;
    }
    if (n > 0) {
        pending->append(buf, static_cast<size_t>(n));
    }
    size_t nl;
    while ((nl = pending->find('\n')) != std::string::npos) {
        std::string line = pending->substr(0, nl);
        pending->erase(0, nl + 1);
        if (!command(line)) {
            return false;
        }
    }
    return true;
}

} // namespace

bool board_stack_min_free(uint32_t *bytes)
{
    (void)bytes;
    return false; /* the host's stack says nothing about the ESP32's */
}

int main(int argc, char **argv)
{
    sc_config cfg;
    sc_config_defaults(&cfg);
    strcpy(cfg.wifi_ssid, "host-model");
    strcpy(cfg.wifi_pass, "model-password");
    std::string frames;
    std::string frames_by_setting;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string opt = argv[i];
        const char *v = argv[i + 1];
        if (opt == "--server") {
            snprintf(cfg.server_host, sizeof cfg.server_host, "%s", v);
        } else if (opt == "--port") {
            cfg.server_port = static_cast<uint16_t>(atoi(v));
        } else if (opt == "--name") {
            snprintf(cfg.device_name, sizeof cfg.device_name, "%s", v);
        } else if (opt == "--key-file") {
            std::vector<uint8_t> text = read_file(v);
            std::string hex(text.begin(), text.end());
            hex.erase(hex.find_last_not_of(" \r\n") + 1);
            cfg.has_key = sc_config_parse_key_hex(hex.c_str(), hex.size(), cfg.key);
        } else if (opt == "--frames") {
            frames = v;
        } else if (opt == "--frames-by-setting") {
            frames_by_setting = v;
        } else if (opt == "--frame-size") {
            cfg.frame_size = static_cast<uint8_t>(atoi(v));
        } else if (opt == "--quality") {
            cfg.jpeg_quality = static_cast<uint8_t>(atoi(v));
        } else if (opt == "--fps-cap") {
            cfg.fps_cap = static_cast<uint8_t>(atoi(v));
        } else if (opt == "--sensor-fps") {
            g_sensor.fps = atof(v);
        } else if (opt == "--rate-kbit") {
            g_link.rate_bytes_per_s = atof(v) * 1000.0 / 8.0;
        } else if (opt == "--rtt-ms") {
            g_link.rtt_us = static_cast<uint64_t>(atof(v) * 1000.0);
        } else if (opt == "--send-buffer") {
            g_link.send_buffer = static_cast<size_t>(atol(v));
        } else if (opt == "--wifi-join-ms") {
            g_wifi_params.join_us = static_cast<uint64_t>(atof(v) * 1000.0);
        } else if (opt == "--scan-slowdown") {
            g_wifi_params.scan_slowdown = atof(v);
        } else if (opt == "--wifi-refuses") {
            g_wifi_params.refuse = atoi(v) != 0;
        } else if (opt == "--dns-ms") {
            g_link.dns_us = static_cast<uint64_t>(atof(v) * 1000.0);
        } else if (opt == "--dns-timeout-ms") {
            g_link.dns_timeout_us = static_cast<uint64_t>(atof(v) * 1000.0);
        } else {
            usage("unknown option");
        }
    }
    if (frames.empty() == frames_by_setting.empty() || !cfg.has_key ||
        cfg.device_name[0] == '\0' || cfg.server_host[0] == '\0') {
        usage("--server, --name, --key-file (64 hex digits) and one of --frames and "
              "--frames-by-setting are required");
    }
    if (!frames.empty()) {
        g_sensor.frames = load_jpegs(frames);
    } else {
        load_frames_by_setting(frames_by_setting);
    }
    fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL, 0) | O_NONBLOCK);

    /* As main.cpp's setup(): the radio now, the camera once the radio is quiet. */
    g_wifi.begin();
    g_wifi.set_network(cfg.wifi_ssid, cfg.wifi_pass);
    uint8_t frame_size = cfg.frame_size;
    uint8_t quality = cfg.jpeg_quality;
    g_stream.begin(&g_camera, &g_wifi);
    g_stream.set_defaults(cfg.frame_size, cfg.jpeg_quality, cfg.fps_cap);
    g_stream.set_target(cfg);
    sc_config_wipe(&cfg);

    std::string pending;
    while (read_commands(&pending)) {
        model_link_advance();
        model_iteration_begin();
        uint64_t now = board_now_us();
        g_wifi.loop(now);
        bool up = false;
        (void)g_wifi.take_change(&up);
        if (!g_camera.ready() && g_start_stage.camera_may_start(g_wifi, now) &&
            !g_camera.begin(frame_size, quality)) {
            usage("the camera model would not start");
        }
        bool busy = g_stream.loop(board_now_us());
        model_iteration_end();
        model_sensor_stream(g_stream.streaming());
        if (!busy) {
            delay(1); /* as the board's loop(): idle, the network stack runs */
        }
    }
    g_stream.stop(SC_CLOSE_GOING_AWAY, "camera rebooting");
    print_stats();
    return 0;
}
