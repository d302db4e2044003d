/* FreeRTOS on the host (the freertos/ headers here): tasks as detached threads, notifications and
 * queues on a mutex and condition variable, ticks of 1 ms. */
#include <string.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"

struct tskTaskControlBlock {
    std::mutex mu;
    std::condition_variable cv;
    uint32_t notified = 0;
};

struct QueueDefinition {
    std::mutex mu;
    std::condition_variable cv;
    size_t length = 0;
    size_t item_size = 0;
    std::deque<std::vector<uint8_t>> items;
};

namespace {

thread_local tskTaskControlBlock *t_current = nullptr;

/* Wait on cv until ready() or the ticks pass; true when ready. */
template <typename Ready>
bool wait_ticks(std::unique_lock<std::mutex> &lock, std::condition_variable &cv, TickType_t ticks,
                Ready ready)
{
    if (ticks == portMAX_DELAY) {
        cv.wait(lock, ready);
        return true;
    }
    return cv.wait_for(lock, std::chrono::milliseconds(ticks), ready);
}

} // namespace

BaseType_t xTaskCreate(TaskFunction_t fn, const char *name, uint32_t stack_bytes, void *arg,
                       UBaseType_t priority, TaskHandle_t *created)
{
    (void)name;
    (void)stack_bytes;
    (void)priority;
    tskTaskControlBlock *task = new tskTaskControlBlock(); /* tasks live as long as the board */
    if (created != nullptr) {
        *created = task;
    }
    std::thread([task, fn, arg]() {
        t_current = task;
        fn(arg);
    }).detach();
    return pdPASS;
}

uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks_to_wait)
{
    tskTaskControlBlock *task = t_current;
    std::unique_lock<std::mutex> lock(task->mu);
    if (!wait_ticks(lock, task->cv, ticks_to_wait, [task] { return task->notified > 0; })) {
        return 0;
    }
    uint32_t value = task->notified;
    task->notified = clear_on_exit ? 0 : value - 1;
    return value;
}

BaseType_t xTaskNotifyGive(TaskHandle_t task)
{
    {
        std::lock_guard<std::mutex> lock(task->mu);
        task->notified++;
    }
    task->cv.notify_all();
    return pdPASS;
}

QueueHandle_t xQueueCreate(UBaseType_t length, UBaseType_t item_size)
{
    QueueDefinition *q = new QueueDefinition();
    q->length = length;
    q->item_size = item_size;
    return q;
}

BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t ticks_to_wait)
{
    {
        std::unique_lock<std::mutex> lock(q->mu);
        if (!wait_ticks(lock, q->cv, ticks_to_wait, [q] { return q->items.size() < q->length; })) {
            return pdFALSE;
        }
        const uint8_t *bytes = static_cast<const uint8_t *>(item);
        q->items.emplace_back(bytes, bytes + q->item_size);
    }
    q->cv.notify_all();
    return pdTRUE;
}

BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t ticks_to_wait)
{
    {
        std::unique_lock<std::mutex> lock(q->mu);
        if (!wait_ticks(lock, q->cv, ticks_to_wait, [q] { return !q->items.empty(); })) {
            return pdFALSE;
        }
        memcpy(item, q->items.front().data(), q->item_size);
        q->items.pop_front();
    }
    q->cv.notify_all();
    return pdTRUE;
}
