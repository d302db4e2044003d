/* Jittered exponential back-off (docs/PROTOCOL.md 6.3), portable C so the host tests can run
 * it: a delay d starting at `first_ms`; each wait is drawn uniformly from [d/2, d], then d
 * doubles up to `max_ms`. The randomness is the caller's (esp_random on the camera), which
 * keeps a fleet of cameras from reconnecting in lock-step after the app restarts.
 */
#ifndef SECURECAM_BACKOFF_H
#define SECURECAM_BACKOFF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BACKOFF_STREAM_FIRST_MS 500u
#define BACKOFF_STREAM_MAX_MS 30000u
/* After an identity rejection (4001..4005, 4015): unauthenticated, so never final, but
 * retried only slowly, somewhere in [30 s, 60 s]. */
#define BACKOFF_REJECTED_MIN_MS 30000u
#define BACKOFF_REJECTED_MAX_MS 60000u

typedef struct {
    uint32_t first_ms;
    uint32_t max_ms;
    uint32_t delay_ms; /* d */
} backoff;

void backoff_init(backoff *b, uint32_t first_ms, uint32_t max_ms);

/* d back to first_ms: after a session was established, or the configuration changed. */
void backoff_reset(backoff *b);

/* The next wait, uniform in [d/2, d] from `random32`; then d = min(2d, max_ms). */
uint32_t backoff_next(backoff *b, uint32_t random32);

/* The wait after an identity rejection: uniform in [30 s, 60 s]; d goes to max_ms, so a
 * failure after the next attempt still waits long. */
uint32_t backoff_rejected(backoff *b, uint32_t random32);

#ifdef __cplusplus
}
#endif

#endif
