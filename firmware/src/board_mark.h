/* Marks the host model of the board (firmware/host/board) measures by: when a PING was read,
 * when its PONG was queued, when a frame started. Nothing on the device. */
#ifndef SECURECAM_BOARD_MARK_H
#define SECURECAM_BOARD_MARK_H

#include <stdint.h>

enum class BoardMark : uint8_t {
    PingRead,     /* a PING record was read and decrypted */
    PongQueued,   /* its PONG was sealed and queued; value: its bytes not yet handed to TCP */
    FrameStarted  /* value: the frame's sequence number */
};

#ifdef SECURECAM_HOST_MODEL
void board_mark(BoardMark mark, uint32_t value);
#else
static inline void board_mark(BoardMark mark, uint32_t value)
{
    (void)mark;
    (void)value;
}
#endif

#endif
