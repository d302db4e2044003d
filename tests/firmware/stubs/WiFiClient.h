/* STUB of Arduino-ESP32 WiFiClient.h (2.x) / NetworkClient.h (3.x, where WiFiClient is
 * NetworkClient) (see README.md): not the SDK. The connect timeout parameter is uint32_t in
 * early 2.0.x and int32_t timeout_ms later; both generations are modelled. */
#pragma once
#include "Arduino.h"

class Client : public Stream {
public:
    virtual int connect(IPAddress ip, uint16_t port) = 0;
    virtual int connect(const char *host, uint16_t port) = 0;
    virtual size_t write(uint8_t) = 0;
    virtual size_t write(const uint8_t *buf, size_t size) = 0;
    virtual int available() = 0;
    virtual int read() = 0;
    virtual int read(uint8_t *buf, size_t size) = 0;
    virtual int peek() = 0;
    virtual void flush() = 0;
    virtual void stop() = 0;
    virtual uint8_t connected() = 0;
    virtual operator bool() = 0;
};

class WiFiClient : public Client {
public:
    WiFiClient();
    WiFiClient(int fd);
    ~WiFiClient();
    int connect(IPAddress ip, uint16_t port);
    int connect(const char *host, uint16_t port);
#if ESP_IDF_VERSION_MAJOR >= 5
    int connect(IPAddress ip, uint16_t port, int32_t timeout_ms);
    int connect(const char *host, uint16_t port, int32_t timeout_ms);
#else
    int connect(IPAddress ip, uint16_t port, uint32_t timeout);
    int connect(const char *host, uint16_t port, uint32_t timeout);
#endif
    size_t write(uint8_t data);
    size_t write(const uint8_t *buf, size_t size);
    int available();
    int read();
    int read(uint8_t *buf, size_t size);
    int peek();
    void flush();
    void stop();
    uint8_t connected();
    operator bool() { return connected(); }
    int setNoDelay(bool nodelay);
    bool getNoDelay();
    using Print::write;
};
