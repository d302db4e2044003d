/* STUB of Arduino-ESP32 libraries/Preferences/src/Preferences.h (see README.md): not the
 * SDK. The real class, minus the scalar accessors the firmware does not use. */
#pragma once
#include "Arduino.h"

typedef enum {
    PT_I8,
    PT_U8,
    PT_I16,
    PT_U16,
    PT_I32,
    PT_U32,
    PT_I64,
    PT_U64,
    PT_STR,
    PT_BLOB,
    PT_INVALID
} PreferenceType;

class Preferences {
protected:
    uint32_t _handle;
    bool _started;
    bool _readOnly;

public:
    Preferences();
    ~Preferences();

    bool begin(const char *name, bool readOnly = false, const char *partition_label = NULL);
    void end();

    bool clear();
    bool remove(const char *key);

    size_t putUChar(const char *key, uint8_t value);
    size_t putString(const char *key, const char *value);
    size_t putBytes(const char *key, const void *value, size_t len);

    bool isKey(const char *key);
    PreferenceType getType(const char *key);
    uint8_t getUChar(const char *key, uint8_t defaultValue = 0);
    size_t getString(const char *key, char *value, size_t maxLen);
    size_t getBytesLength(const char *key);
    size_t getBytes(const char *key, void *buf, size_t maxLen);
    size_t freeEntries();
};
