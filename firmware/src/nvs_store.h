/* The core's key-value store interface (sc_config_store, sc_config.h) backed by NVS through
 * Arduino Preferences, in namespace "securecam" (docs/PROVISIONING.md 7). Every value is a
 * blob (putBytes / getBytes); an absent key means "not set". */
#ifndef SECURECAM_NVS_STORE_H
#define SECURECAM_NVS_STORE_H

#include <Preferences.h>

#include "securecam/sc_config.h"

class NvsStore {
public:
    /* Open the namespace read-write (Arduino has already run nvs_flash_init). False when NVS
     * is unusable: every call then reports SC_STORE_ERROR and the console says store_failed. */
    bool begin(const char *name_space = SC_CONFIG_NVS_NAMESPACE);

    /* The interface for sc_config_load/save and the console; valid while this object is. */
    sc_config_store store();

private:
    static sc_store_result get(void *ctx, const char *key, uint8_t *buf, size_t cap,
                               size_t *len);
    static sc_store_result set(void *ctx, const char *key, const uint8_t *value, size_t len);
    static sc_store_result remove(void *ctx, const char *key);
    static sc_store_result erase_all(void *ctx);

    Preferences prefs_;
    bool open_ = false;
};

#endif
