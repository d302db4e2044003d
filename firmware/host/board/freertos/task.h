/* HOST MODEL of FreeRTOS task.h (see FreeRTOS.h here): not the SDK. */
#pragma once
#include "freertos/FreeRTOS.h"

BaseType_t xTaskCreate(TaskFunction_t fn, const char *name, uint32_t stack_bytes, void *arg,
                       UBaseType_t priority, TaskHandle_t *created);
uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks_to_wait);
BaseType_t xTaskNotifyGive(TaskHandle_t task);
