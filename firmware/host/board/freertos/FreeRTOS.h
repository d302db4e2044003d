/* HOST MODEL of the FreeRTOS calls the board layer makes (firmware/host/board): not the SDK.
 * Tasks are threads, a task notification is a counting semaphore, a queue is a bounded FIFO;
 * the semantics (blocking, timeouts in ticks of 1 ms) are FreeRTOS's. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef uint32_t TickType_t;
typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef struct tskTaskControlBlock *TaskHandle_t; /* as ESP-IDF's task.h and esp_task_wdt.h */
typedef struct QueueDefinition *QueueHandle_t;
typedef void (*TaskFunction_t)(void *);

#define pdTRUE 1
#define pdFALSE 0
#define pdPASS 1
#define pdFAIL 0
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define portTICK_PERIOD_MS 1
