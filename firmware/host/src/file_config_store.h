/* sc_config_store backed by one file, for the host build (the firmware uses NVS).
 *
 * The file is text: a "securecam-config 1" line, then one "key=HEX" line per value.
 * Values live in memory; commit rewrites the whole file atomically (temp file in the same
 * directory, fsync, rename, fsync of the directory) with mode 0600, since it holds the
 * Noise key and the Wi-Fi password. A failed commit rolls memory back to the file's
 * contents. No allocation.
 */
#ifndef SECURECAM_FILE_CONFIG_STORE_H
#define SECURECAM_FILE_CONFIG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "securecam/sc_config.h"

#define FILE_STORE_MAX_ENTRIES 32
#define FILE_STORE_MAX_KEY 15
#define FILE_STORE_MAX_VALUE 255
#define FILE_STORE_MAX_PATH 4096

typedef struct {
    char key[FILE_STORE_MAX_KEY + 1];
    uint8_t value[FILE_STORE_MAX_VALUE];
    size_t len;
    bool used;
} file_store_entry;

typedef struct {
    char path[FILE_STORE_MAX_PATH];
    file_store_entry entries[FILE_STORE_MAX_ENTRIES];
    file_store_entry committed[FILE_STORE_MAX_ENTRIES]; /* as on disk, for rollback */
    bool dirty;
} file_config_store;

/* Read path into fs (a missing file is an empty store). Returns false, with a message in
 * err (errlen bytes), when the file cannot be read or is malformed: the caller should stop
 * rather than overwrite a file it did not understand. */
bool file_config_store_open(file_config_store *fs, const char *path, char *err, size_t errlen);

/* The sc_config_store view of fs; fs must outlive it. */
sc_config_store file_config_store_interface(file_config_store *fs);

/* Zeroize the in-memory copy. */
void file_config_store_close(file_config_store *fs);

#endif
