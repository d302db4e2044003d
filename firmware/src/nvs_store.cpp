/* sc_config_store over Preferences (nvs_store.h).
 *
 * Preferences logs an error (log_e) for a missing key in getBytesLength and remove, so every
 * lookup asks isKey first: a fresh camera boots without error lines on the console's port.
 * putBytes commits each write itself (nvs_commit), hence no commit callback. */
#include "nvs_store.h"

bool NvsStore::begin(const char *name_space)
{
    open_ = prefs_.begin(name_space, false);
    return open_;
}

sc_config_store NvsStore::store()
{
    sc_config_store s;
    s.ctx = this;
    s.get = &NvsStore::get;
    s.set = &NvsStore::set;
    s.remove = &NvsStore::remove;
    s.erase_all = &NvsStore::erase_all;
    s.commit = nullptr; /* every putBytes is committed on its own */
    return s;
}

sc_store_result NvsStore::get(void *ctx, const char *key, uint8_t *buf, size_t cap,
                              size_t *len)
{
    NvsStore *self = static_cast<NvsStore *>(ctx);
    if (!self->open_) {
        return SC_STORE_ERROR;
    }
    if (!self->prefs_.isKey(key)) {
        return SC_STORE_NOT_FOUND;
    }
    if (self->prefs_.getType(key) != PT_BLOB) {
        /* Written by something else under our key: not a value this firmware can read. The
         * core treats TOO_BIG as an invalid stored value (that field gets its default). */
        return SC_STORE_TOO_BIG;
    }
    size_t stored = self->prefs_.getBytesLength(key);
    if (stored == 0) {
        return SC_STORE_ERROR;
    }
    if (stored > cap) {
        return SC_STORE_TOO_BIG;
    }
    if (self->prefs_.getBytes(key, buf, cap) != stored) {
        return SC_STORE_ERROR;
    }
    *len = stored;
    return SC_STORE_OK;
}

sc_store_result NvsStore::set(void *ctx, const char *key, const uint8_t *value, size_t len)
{
    NvsStore *self = static_cast<NvsStore *>(ctx);
    if (!self->open_ || len == 0) {
        return SC_STORE_ERROR;
    }
    /* NVS keeps one entry per key and type: drop a foreign-typed entry so it cannot shadow
     * the blob (Preferences::getType checks the integer types first). */
    if (self->prefs_.isKey(key) && self->prefs_.getType(key) != PT_BLOB &&
        !self->prefs_.remove(key)) {
        return SC_STORE_ERROR;
    }
    return self->prefs_.putBytes(key, value, len) == len ? SC_STORE_OK : SC_STORE_ERROR;
}

sc_store_result NvsStore::remove(void *ctx, const char *key)
{
    NvsStore *self = static_cast<NvsStore *>(ctx);
    if (!self->open_) {
        return SC_STORE_ERROR;
    }
    if (!self->prefs_.isKey(key)) {
        return SC_STORE_NOT_FOUND;
    }
    return self->prefs_.remove(key) ? SC_STORE_OK : SC_STORE_ERROR;
}

sc_store_result NvsStore::erase_all(void *ctx)
{
    NvsStore *self = static_cast<NvsStore *>(ctx);
    if (!self->open_) {
        return SC_STORE_ERROR;
    }
    return self->prefs_.clear() ? SC_STORE_OK : SC_STORE_ERROR;
}
