/* STUB of ESP-IDF esp_idf_version.h (see README.md): not the SDK. */
#pragma once
#ifndef STUB_IDF_MAJOR
#error "the test sets STUB_IDF_MAJOR to 4 (Arduino-ESP32 2.x) or 5 (Arduino-ESP32 3.x)"
#endif
#define ESP_IDF_VERSION_MAJOR STUB_IDF_MAJOR
#define ESP_IDF_VERSION_MINOR 4
#define ESP_IDF_VERSION_PATCH 0
