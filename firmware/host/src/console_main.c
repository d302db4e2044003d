/* securecam-console: the firmware's provisioning console on a host serial-like fd.
 *
 *   securecam-console --config FILE [--pty] [--boot-noise]
 *                     [--networks "ssid:rssi:YES|NO,..."] [--wifi "ssid:password"]
 *
 * --pty         open a pseudo-terminal pair, print "PTY /dev/pts/N" as stdout line 1 and
 *               serve the master side. Like an ESP32-CAM whose USB adapter resets it when
 *               the port is opened, the console "boots" each time a client opens the pty.
 *               Without --pty it serves stdin/stdout and exits at end of input.
 * --boot-noise  print ESP32 ROM/bootloader lines at every boot and ESP-IDF-style log lines
 *               (Wi-Fi events) between packets, as a real camera does on the same UART.
 * --networks    the fake Wi-Fi scan result (SSIDs may contain ':' but not ',').
 * --wifi        the only SSID/password pair a connection attempt succeeds with (split at
 *               the first ':'); without it every attempt fails.
 * The reboot command re-prints the boot banner and reloads the configuration from FILE.
 * Diagnostics go to stderr and never contain the key or the Wi-Fi password.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "file_config_store.h"
#include "securecam/sc_console.h"

#define FIRMWARE_NAME "securecam-fw"
#define FIRMWARE_VERSION "0.1.0"
#define HARDWARE "host-simulator"
#define IDLE_MS 100 /* silence after which a partial packet is abandoned */
#define ATTACH_BOOT_DELAY_MS 100 /* let the client finish opening (it flushes its input) */

typedef struct {
    const char *config_path;
    bool pty;
    bool noise;
    sc_wifi_network networks[SC_CONSOLE_MAX_NETWORKS];
    size_t network_count;
    bool have_wifi;
    char wifi_ssid[SC_CONFIG_SSID_MAX + 1];
    char wifi_pass[SC_CONFIG_PASS_MAX + 1];
} options;

typedef struct {
    options opt;
    int out_fd;
    bool output_closed;
    bool reboot_requested;
    struct timespec boot_time;
    file_config_store file;
    sc_config_store store;
    sc_console console;
} app;

static app g_app; /* large (the console and the store): keep it off the stack */

/* ---- output ------------------------------------------------------------------------- */

static void write_out(app *a, const void *data, size_t len)
{
    const char *p = data;
    int stalls = 0;
    while (len > 0 && !a->output_closed) {
        ssize_t n = write(a->out_fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (++stalls > 50) {
                return; /* a client that keeps the port open but never reads: drop, like a UART */
            }
            struct pollfd pfd = {a->out_fd, POLLOUT, 0};
            (void)poll(&pfd, 1, 100);
            continue;
        }
        if (n <= 0) {
            /* EIO: the pty client went away; EPIPE: stdout's reader did. */
            a->output_closed = !a->opt.pty;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static unsigned long ms_since_boot(const app *a)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - a->boot_time.tv_sec) * 1000L +
              (now.tv_nsec - a->boot_time.tv_nsec) / 1000000L;
    return ms < 0 ? 0UL : (unsigned long)ms;
}

/* An ESP-IDF-style log line on the serial port (only with --boot-noise). */
static void device_log(app *a, char level, const char *tag, const char *msg, const char *arg)
{
    if (!a->opt.noise) {
        return;
    }
    char line[200];
    int n = snprintf(line, sizeof line, "%c (%lu) %s: %s%s\r\n", level, ms_since_boot(a), tag,
                     msg, arg != NULL ? arg : "");
    if (n > 0) {
        write_out(a, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- console callbacks -------------------------------------------------------------- */

static void cb_write(void *ctx, const uint8_t *data, size_t len)
{
    write_out(ctx, data, len);
}

static size_t cb_scan(void *ctx, sc_wifi_network *out, size_t max)
{
    app *a = ctx;
    size_t n = a->opt.network_count < max ? a->opt.network_count : max;
    memcpy(out, a->opt.networks, n * sizeof *out);
    device_log(a, 'I', "wifi", "scan done", NULL);
    return n;
}

static bool wifi_matches(const app *a, const char *ssid, const char *password)
{
    return a->opt.have_wifi && strcmp(ssid, a->opt.wifi_ssid) == 0 &&
           strcmp(password, a->opt.wifi_pass) == 0;
}

/* The SSID comes off the wire: keep control characters out of the developer's terminal. */
static void printable(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in != '\0' && o + 1 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[o] = '\0';
}

static sc_wifi_attempt cb_connect(void *ctx, const char *ssid, const char *password)
{
    app *a = ctx;
    bool ok = wifi_matches(a, ssid, password);
    char shown[SC_CONFIG_SSID_MAX + 1];
    printable(ssid, shown, sizeof shown);
    fprintf(stderr, "securecam-console: Wi-Fi attempt on \"%s\": %s\n", shown,
            ok ? "connected" : "failed");
    device_log(a, ok ? 'I' : 'W', "wifi", ok ? "connected to " : "could not connect to ", ssid);
    return ok ? SC_WIFI_CONNECTED : SC_WIFI_FAILED;
}

static void cb_reboot(void *ctx)
{
    ((app *)ctx)->reboot_requested = true;
}

/* ---- boot --------------------------------------------------------------------------- */

static void boot_noise(app *a, bool power_on)
{
    /* Bytes at the wrong baud rate, then what the ROM and bootloader print at 115200. */
    static const uint8_t garbage[] = {0x00, 0xff, 0x13, 0x8e, 0xe0, 0x49, 0x4d, 0x0d, 0x0a};
    static const char rom[] =
        "ets Jun  8 2016 00:22:57\r\n"
        "\r\n"
        "%s,boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
        "configsip: 0, SPIWP:0xee\r\n"
        "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n"
        "mode:DIO, clock div:1\r\n"
        "load:0x3fff0030,len:1344\r\n"
        "load:0x40078000,len:13964\r\n"
        "load:0x40080400,len:3600\r\n"
        "entry 0x400805f0\r\n"
        "I (29) boot: ESP-IDF v4.4.7 2nd stage bootloader\r\n"
        "I (312) cpu_start: Starting scheduler on PRO CPU.\r\n"
        /* "IMPROV" followed by a space, not version 1: must be skipped as noise. */
        "I (318) securecam: IMPROV serial console on UART0, 115200 8N1\r\n";
    char text[sizeof rom + 64];
    int n = snprintf(text, sizeof text, rom,
                     power_on ? "rst:0x1 (POWERON_RESET)" : "rst:0xc (SW_CPU_RESET)");
    if (power_on) {
        write_out(a, garbage, sizeof garbage);
    }
    if (n > 0) {
        write_out(a, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    }
}

static void boot(app *a, bool power_on)
{
    static const char banner[] =
        "SecureCam " FIRMWARE_VERSION " (host console): Improv serial provisioning ready\r\n";
    static const sc_console_info info = {FIRMWARE_NAME, FIRMWARE_VERSION, HARDWARE};
    char err[256];

    clock_gettime(CLOCK_MONOTONIC, &a->boot_time);
    a->reboot_requested = false;
    file_config_store_close(&a->file);
    if (!file_config_store_open(&a->file, a->opt.config_path, err, sizeof err)) {
        fprintf(stderr, "securecam-console: %s\n", err);
        exit(1);
    }
    a->store = file_config_store_interface(&a->file);
    if (a->opt.noise) {
        boot_noise(a, power_on);
    }
    write_out(a, banner, sizeof banner - 1);

    sc_console_callbacks cb = {a, cb_write, cb_scan, cb_connect, cb_reboot, &a->store};
    sc_config_status st = sc_console_init(&a->console, &cb, &info);
    if (st != SC_CONFIG_OK) {
        fprintf(stderr, "securecam-console: %s: %s; using defaults for the affected fields\n",
                a->opt.config_path,
                st == SC_CONFIG_CORRUPT ? "invalid stored values" : "store error");
    }
    fprintf(stderr, "securecam-console: booted (%s)\n", power_on ? "power-on" : "software reset");

    /* Like the firmware: join the stored network at boot, report it to Improv clients. */
    const sc_config *cfg = sc_console_config(&a->console);
    if (cfg->wifi_ssid[0] != '\0') {
        bool ok = wifi_matches(a, cfg->wifi_ssid, cfg->wifi_pass);
        device_log(a, ok ? 'I' : 'W', "wifi", ok ? "connected to " : "could not connect to ",
                   cfg->wifi_ssid);
        sc_console_set_wifi_connected(&a->console, ok);
    }
}

/* ---- option parsing ----------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: securecam-console --config FILE [--pty] [--boot-noise]\n"
            "                         [--networks \"ssid:rssi:YES|NO,...\"] "
            "[--wifi \"ssid:password\"]\n");
    exit(2);
}

static bool parse_network(const char *item, size_t len, sc_wifi_network *out)
{
    /* From the right: auth and rssi cannot contain ':', the SSID can. */
    const char *end = item + len;
    const char *c2 = NULL;
    const char *c1 = NULL;
    for (const char *p = end; p > item; p--) {
        if (p[-1] == ':') {
            if (c2 == NULL) {
                c2 = p - 1;
            } else {
                c1 = p - 1;
                break;
            }
        }
    }
    if (c1 == NULL) {
        return false;
    }
    size_t ssid_len = (size_t)(c1 - item);
    char num[8];
    size_t num_len = (size_t)(c2 - c1 - 1);
    size_t auth_len = (size_t)(end - c2 - 1);
    if (!sc_config_valid_ssid((const uint8_t *)item, ssid_len) || num_len == 0 ||
        num_len >= sizeof num) {
        return false;
    }
    memcpy(num, c1 + 1, num_len);
    num[num_len] = '\0';
    char *num_end;
    long rssi = strtol(num, &num_end, 10);
    if (*num_end != '\0' || rssi < -128 || rssi > 127) {
        return false;
    }
    if (auth_len == 3 && strncmp(c2 + 1, "YES", 3) == 0) {
        out->secured = true;
    } else if (auth_len == 2 && strncmp(c2 + 1, "NO", 2) == 0) {
        out->secured = false;
    } else {
        return false;
    }
    memset(out->ssid, 0, sizeof out->ssid);
    memcpy(out->ssid, item, ssid_len);
    out->rssi = (int8_t)rssi;
    return true;
}

static bool parse_networks(const char *text, options *o)
{
    o->network_count = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (o->network_count == SC_CONSOLE_MAX_NETWORKS ||
            !parse_network(p, len, &o->networks[o->network_count])) {
            return false;
        }
        o->network_count++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return true;
}

static bool parse_wifi(const char *text, options *o)
{
    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        return false;
    }
    size_t ssid_len = (size_t)(colon - text);
    size_t pass_len = strlen(colon + 1);
    if (!sc_config_valid_ssid((const uint8_t *)text, ssid_len) ||
        !sc_config_valid_wifi_pass((const uint8_t *)colon + 1, pass_len)) {
        return false;
    }
    memcpy(o->wifi_ssid, text, ssid_len);
    o->wifi_ssid[ssid_len] = '\0';
    memcpy(o->wifi_pass, colon + 1, pass_len + 1);
    o->have_wifi = true;
    return true;
}

static void parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--pty") == 0) {
            o->pty = true;
        } else if (strcmp(arg, "--boot-noise") == 0) {
            o->noise = true;
        } else if (strcmp(arg, "--config") == 0 && has_value) {
            o->config_path = argv[++i];
        } else if (strcmp(arg, "--networks") == 0 && has_value) {
            if (!parse_networks(argv[++i], o)) {
                fprintf(stderr, "securecam-console: bad --networks (ssid:rssi:YES|NO,...)\n");
                exit(2);
            }
        } else if (strcmp(arg, "--wifi") == 0 && has_value) {
            if (!parse_wifi(argv[++i], o)) {
                fprintf(stderr, "securecam-console: bad --wifi (ssid:password)\n");
                exit(2);
            }
        } else {
            usage();
        }
    }
    if (o->config_path == NULL) {
        usage();
    }
}

/* ---- serving ------------------------------------------------------------------------ */

static void after_feed(app *a)
{
    if (a->reboot_requested) {
        fprintf(stderr, "securecam-console: rebooting\n");
        boot(a, false);
    }
}

static int serve_stdio(app *a)
{
    uint8_t buf[512];
    a->out_fd = STDOUT_FILENO;
    boot(a, true);
    while (!a->output_closed) {
        struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
        int r = poll(&pfd, 1, IDLE_MS);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            perror("securecam-console: poll");
            return 1;
        }
        if (r == 0) {
            sc_console_idle(&a->console);
            continue;
        }
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* end of input */
        }
        sc_console_feed(&a->console, buf, (size_t)n);
        after_feed(a);
    }
    return 0;
}

static int open_pty(char *name, size_t cap)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        perror("securecam-console: posix_openpt");
        return -1;
    }
    const char *slave_name = ptsname(master);
    if (slave_name == NULL || strlen(slave_name) >= cap) {
        perror("securecam-console: ptsname");
        return -1;
    }
    strcpy(name, slave_name);
    /* Raw mode before anyone opens it: the default cooked mode would echo our output back
     * as input and turn '\n' into "\r\n" inside binary packets. The setting stays with the
     * pty after this descriptor is closed. */
    int slave = open(name, O_RDWR | O_NOCTTY);
    struct termios t;
    if (slave < 0 || tcgetattr(slave, &t) != 0) {
        perror("securecam-console: pty slave");
        return -1;
    }
    cfmakeraw(&t);
    if (tcsetattr(slave, TCSANOW, &t) != 0) {
        perror("securecam-console: tcsetattr");
        return -1;
    }
    close(slave);
    int flags = fcntl(master, F_GETFL);
    if (flags >= 0) {
        (void)fcntl(master, F_SETFL, flags | O_NONBLOCK);
    }
    return master;
}

static int serve_pty(app *a)
{
    char name[128];
    int master = open_pty(name, sizeof name);
    if (master < 0) {
        return 1;
    }
    printf("PTY %s\n", name);
    fflush(stdout);
    a->out_fd = master;

    /* Linux reports POLLHUP on the master while no process has the slave open. */
    bool attached = false;
    uint8_t buf[512];
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        int r = poll(&pfd, 1, IDLE_MS);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            perror("securecam-console: poll");
            return 1;
        }
        if ((pfd.revents & POLLHUP) != 0 && (pfd.revents & POLLIN) == 0) {
            if (attached) {
                fprintf(stderr, "securecam-console: client closed the port\n");
                attached = false;
            }
            sleep_ms(50);
            continue;
        }
        if (!attached) {
            attached = true;
            fprintf(stderr, "securecam-console: client opened the port\n");
            sleep_ms(ATTACH_BOOT_DELAY_MS);
            boot(a, true);
            continue;
        }
        if (r == 0) {
            sc_console_idle(&a->console);
            continue;
        }
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            continue;
        }
        if (n <= 0) {
            attached = false; /* EIO: the last client closed the slave */
            continue;
        }
        sc_console_feed(&a->console, buf, (size_t)n);
        after_feed(a);
    }
}

int main(int argc, char **argv)
{
    app *a = &g_app;
    parse_args(argc, argv, &a->opt);
    signal(SIGPIPE, SIG_IGN);
    /* Fail now on an unreadable config file, not when the first client connects. */
    char err[256];
    if (!file_config_store_open(&a->file, a->opt.config_path, err, sizeof err)) {
        fprintf(stderr, "securecam-console: %s\n", err);
        return 1;
    }
    file_config_store_close(&a->file);
    int rc = a->opt.pty ? serve_pty(a) : serve_stdio(a);
    sc_console_wipe(&a->console);
    file_config_store_close(&a->file);
    return rc;
}
