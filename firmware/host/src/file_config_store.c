/* A file-backed sc_config_store for the host console (see file_config_store.h). */
#include "file_config_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "securecam/sc_crypto.h"

static const char HEADER[] = "securecam-config 1";
/* Header, then every entry at its largest: "key=" + 2 hex digits a byte + "\n". */
#define FILE_STORE_MAX_TEXT \
    (sizeof HEADER + FILE_STORE_MAX_ENTRIES * (FILE_STORE_MAX_KEY + 2 + 2 * FILE_STORE_MAX_VALUE))

static bool valid_key(const char *key, size_t len)
{
    if (len == 0 || len > FILE_STORE_MAX_KEY) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static file_store_entry *find(file_config_store *fs, const char *key)
{
    for (size_t i = 0; i < FILE_STORE_MAX_ENTRIES; i++) {
        if (fs->entries[i].used && strcmp(fs->entries[i].key, key) == 0) {
            return &fs->entries[i];
        }
    }
    return NULL;
}

static file_store_entry *find_or_add(file_config_store *fs, const char *key)
{
    file_store_entry *e = find(fs, key);
    if (e != NULL) {
        return e;
    }
    for (size_t i = 0; i < FILE_STORE_MAX_ENTRIES; i++) {
        if (!fs->entries[i].used) {
            e = &fs->entries[i];
            memset(e, 0, sizeof *e);
            memcpy(e->key, key, strlen(key) + 1);
            e->used = true;
            return e;
        }
    }
    return NULL;
}

/* One "key=HEX" line (without its newline). */
static bool parse_line(file_config_store *fs, const char *line, size_t len)
{
    const char *eq = memchr(line, '=', len);
    if (eq == NULL) {
        return false;
    }
    size_t klen = (size_t)(eq - line);
    const char *hex = eq + 1;
    size_t hlen = len - klen - 1;
    if (!valid_key(line, klen) || hlen == 0 || hlen % 2 != 0 ||
        hlen / 2 > FILE_STORE_MAX_VALUE) {
        return false;
    }
    char key[FILE_STORE_MAX_KEY + 1];
    memcpy(key, line, klen);
    key[klen] = '\0';
    if (find(fs, key) != NULL) {
        return false; /* a duplicate means the file was not written by us */
    }
    file_store_entry *e = find_or_add(fs, key);
    if (e == NULL) {
        return false;
    }
    for (size_t i = 0; i < hlen / 2; i++) {
        int hi = hex_digit(hex[2 * i]);
        int lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        e->value[i] = (uint8_t)(hi << 4 | lo);
    }
    e->len = hlen / 2;
    return true;
}

static void set_err(char *err, size_t errlen, const char *path, const char *what)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s: %s", path, what);
    }
}

bool file_config_store_open(file_config_store *fs, const char *path, char *err, size_t errlen)
{
    memset(fs, 0, sizeof *fs);
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof fs->path) {
        set_err(err, errlen, path, "bad path");
        return false;
    }
    memcpy(fs->path, path, plen + 1);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return true;
        }
        set_err(err, errlen, path, strerror(errno));
        return false;
    }
    char text[FILE_STORE_MAX_TEXT + 1];
    size_t len = 0;
    bool ok = true;
    for (;;) {
        ssize_t n = read(fd, text + len, sizeof text - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            set_err(err, errlen, path, strerror(errno));
            ok = false;
            break;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == sizeof text) {
            set_err(err, errlen, path, "too large for a config file");
            ok = false;
            break;
        }
    }
    close(fd);

    size_t pos = 0;
    bool first = true;
    while (ok && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        const char *line = text + pos;
        size_t llen = end - pos;
        if (first) {
            if (llen != sizeof HEADER - 1 || memcmp(line, HEADER, llen) != 0) {
                set_err(err, errlen, path, "not a securecam-config 1 file");
                ok = false;
            }
            first = false;
        } else if (llen > 0 && !parse_line(fs, line, llen)) {
            set_err(err, errlen, path, "malformed line");
            ok = false;
        }
        pos = end + 1;
    }
    sc_wipe(text, sizeof text);
    if (!ok) {
        file_config_store_close(fs);
    } else {
        memcpy(fs->committed, fs->entries, sizeof fs->entries);
    }
    return ok;
}

void file_config_store_close(file_config_store *fs)
{
    sc_wipe(fs, sizeof *fs);
}

static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Make the rename durable too, not just the new file's contents. */
static bool fsync_parent(const char *path)
{
    char dir[FILE_STORE_MAX_PATH];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static sc_store_result write_file(file_config_store *fs)
{
    static const char HEX[] = "0123456789abcdef";
    char text[FILE_STORE_MAX_TEXT];
    size_t o = 0;
    memcpy(text, HEADER, sizeof HEADER - 1);
    o += sizeof HEADER - 1;
    text[o++] = '\n';
    for (size_t i = 0; i < FILE_STORE_MAX_ENTRIES; i++) {
        const file_store_entry *e = &fs->entries[i];
        if (!e->used) {
            continue;
        }
        size_t kl = strlen(e->key);
        memcpy(text + o, e->key, kl);
        o += kl;
        text[o++] = '=';
        for (size_t j = 0; j < e->len; j++) {
            text[o++] = HEX[e->value[j] >> 4];
            text[o++] = HEX[e->value[j] & 0x0f];
        }
        text[o++] = '\n';
    }

    char tmp[FILE_STORE_MAX_PATH + 32];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", fs->path, (long)getpid());
    sc_store_result result = SC_STORE_ERROR;
    if (n > 0 && (size_t)n < sizeof tmp) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* A umask can only clear bits, but be explicit: the file holds secrets. */
            bool ok = fchmod(fd, 0600) == 0 && write_all(fd, text, o) && fsync(fd) == 0;
            ok = close(fd) == 0 && ok;
            ok = ok && rename(tmp, fs->path) == 0;
            if (!ok) {
                unlink(tmp);
            } else {
                result = fsync_parent(fs->path) ? SC_STORE_OK : SC_STORE_ERROR;
            }
        }
    }
    sc_wipe(text, sizeof text);
    return result;
}

/* ---- the sc_config_store interface -------------------------------------------------- */

static sc_store_result fs_get(void *ctx, const char *key, uint8_t *buf, size_t cap, size_t *len)
{
    const file_store_entry *e = find(ctx, key);
    if (e == NULL) {
        return SC_STORE_NOT_FOUND;
    }
    *len = e->len;
    if (e->len > cap) {
        return SC_STORE_TOO_BIG;
    }
    memcpy(buf, e->value, e->len);
    return SC_STORE_OK;
}

static sc_store_result fs_set(void *ctx, const char *key, const uint8_t *value, size_t len)
{
    file_config_store *fs = ctx;
    if (!valid_key(key, strlen(key)) || len == 0 || len > FILE_STORE_MAX_VALUE) {
        return SC_STORE_ERROR;
    }
    file_store_entry *e = find_or_add(fs, key);
    if (e == NULL) {
        return SC_STORE_ERROR;
    }
    memcpy(e->value, value, len);
    e->len = len;
    fs->dirty = true;
    return SC_STORE_OK;
}

static sc_store_result fs_remove(void *ctx, const char *key)
{
    file_config_store *fs = ctx;
    file_store_entry *e = find(fs, key);
    if (e == NULL) {
        return SC_STORE_NOT_FOUND;
    }
    sc_wipe(e, sizeof *e);
    fs->dirty = true;
    return SC_STORE_OK;
}

static sc_store_result fs_erase_all(void *ctx)
{
    file_config_store *fs = ctx;
    sc_wipe(fs->entries, sizeof fs->entries);
    fs->dirty = true;
    return SC_STORE_OK;
}

static sc_store_result fs_commit(void *ctx)
{
    file_config_store *fs = ctx;
    if (!fs->dirty) {
        return SC_STORE_OK;
    }
    sc_store_result r = write_file(fs);
    if (r == SC_STORE_OK) {
        memcpy(fs->committed, fs->entries, sizeof fs->entries);
    } else {
        /* Roll back, or a later successful commit would persist what this one refused. */
        memcpy(fs->entries, fs->committed, sizeof fs->entries);
    }
    fs->dirty = false;
    return r;
}

sc_config_store file_config_store_interface(file_config_store *fs)
{
    sc_config_store s = {fs, fs_get, fs_set, fs_remove, fs_erase_all, fs_commit};
    return s;
}
