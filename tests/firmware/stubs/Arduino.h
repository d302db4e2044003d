/* STUB of the Arduino-ESP32 core headers the firmware touches (see README.md): not the SDK.
 * Arduino.h pulls in esp32-hal.h (delay, millis), esp32-hal-gpio.h (pinMode, digitalWrite),
 * esp32-hal-psram.h (psramFound), HardwareSerial.h (Serial), Esp.h (ESP), WString.h (String)
 * and IPAddress.h; so does this stub, in one file. */
#pragma once
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_err.h"
#include "esp_idf_version.h"
#include "sdkconfig.h"

#define LOW 0x0
#define HIGH 0x1
#define INPUT 0x01
#define OUTPUT 0x03
#define SERIAL_8N1 0x800001c

typedef bool boolean;
typedef uint8_t byte;

/* Arduino.h: the loop task's stack size (a weak default the sketch may override) */
size_t getArduinoLoopTaskStackSize(void);
#define SET_LOOP_TASK_STACK_SIZE(sz) size_t getArduinoLoopTaskStackSize() { return sz;}

/* esp32-hal.h */
unsigned long millis();
unsigned long micros();
void delay(uint32_t);
/* esp32-hal-gpio.h */
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
int digitalRead(uint8_t pin);
/* esp32-hal-psram.h */
bool psramFound();

/* WString.h */
class String {
public:
    String(const char *cstr = "");
    String(const String &str);
    ~String();
    String &operator=(const String &rhs);
    unsigned int length(void) const;
    const char *c_str() const;
    bool equals(const char *cstr) const;

private:
    char *buffer_ = nullptr; /* storage, as the real class's buffer (the host model uses it) */
};

/* Print.h / Stream.h */
class Print {
public:
    virtual ~Print() {}
    virtual size_t write(uint8_t) = 0;
    virtual size_t write(const uint8_t *buffer, size_t size);
    size_t write(const char *str);
    size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
    virtual void flush() {}
};

class Stream : public Print {
public:
    virtual int available() = 0;
    virtual int read() = 0;
    virtual int peek() = 0;
};

/* HardwareSerial.h */
class HardwareSerial : public Stream {
public:
    HardwareSerial(int uart_nr);
    ~HardwareSerial();
    void begin(unsigned long baud, uint32_t config = SERIAL_8N1, int8_t rxPin = -1,
               int8_t txPin = -1, bool invert = false, unsigned long timeout_ms = 20000UL,
               uint8_t rxfifo_full_thrhd = 112);
    void end(bool fullyTerminate = true);
    int available(void);
    int availableForWrite(void);
    int peek(void);
    int read(void);
    size_t read(uint8_t *buffer, size_t size);
    void flush(void);
    void flush(bool txOnly);
    size_t write(uint8_t);
    size_t write(const uint8_t *buffer, size_t size);
    size_t setRxBufferSize(size_t new_size);
    size_t setTxBufferSize(size_t new_size);
    using Print::write;
};
extern HardwareSerial Serial;

/* IPAddress.h */
class IPAddress {
public:
    IPAddress();
    IPAddress(uint8_t first_octet, uint8_t second_octet, uint8_t third_octet,
              uint8_t fourth_octet);
    IPAddress(uint32_t address);
    IPAddress(const uint8_t *address);
    uint8_t operator[](int index) const;
    uint8_t &operator[](int index);

private:
    uint8_t address_[4] = {}; /* storage, as the real class's _address */
};

/* Esp.h */
class EspClass {
public:
    uint32_t getFreeHeap();
    uint32_t getFreePsram();
    void restart();
};
extern EspClass ESP;
