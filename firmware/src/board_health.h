/* What the board knows about its own health, for STATUS and the console. */
#ifndef SECURECAM_BOARD_HEALTH_H
#define SECURECAM_BOARD_HEALTH_H

#include <stdint.h>

/* The loop task's least free stack so far, in bytes (FreeRTOS's high-water mark); false
 * when it is not known. Call from the loop task. */
bool board_stack_min_free(uint32_t *bytes);

#endif
