/* Jittered exponential back-off (backoff.h). */
#include "backoff.h"

/* lo + (random32 mod (hi - lo + 1)), without overflow; hi >= lo. */
static uint32_t uniform(uint32_t lo, uint32_t hi, uint32_t random32)
{
    uint32_t span = hi - lo;
    return span == UINT32_MAX ? random32 : lo + random32 % (span + 1u);
}

void backoff_init(backoff *b, uint32_t first_ms, uint32_t max_ms)
{
    b->first_ms = first_ms;
    b->max_ms = max_ms < first_ms ? first_ms : max_ms;
    b->delay_ms = first_ms;
}

void backoff_reset(backoff *b)
{
    b->delay_ms = b->first_ms;
}

uint32_t backoff_next(backoff *b, uint32_t random32)
{
    uint32_t d = b->delay_ms;
    uint32_t wait = uniform(d / 2u, d, random32);
    b->delay_ms = d > b->max_ms / 2u ? b->max_ms : d * 2u;
    return wait;
}

uint32_t backoff_rejected(backoff *b, uint32_t random32)
{
    b->delay_ms = b->max_ms;
    return uniform(BACKOFF_REJECTED_MIN_MS, BACKOFF_REJECTED_MAX_MS, random32);
}
