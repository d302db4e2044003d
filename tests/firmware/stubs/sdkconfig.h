/* STUB of the Arduino-ESP32 build's sdkconfig.h (see README.md): not the SDK. */
#pragma once
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0 1
