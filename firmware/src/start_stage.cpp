/* The staged start (start_stage.h). */
#include "start_stage.h"

bool StartStage::camera_may_start(const WifiLink &wifi, uint64_t now_us)
{
    if (!wifi.quiet()) {
        quiet_since_us_ = 0;
        return false;
    }
    if (quiet_since_us_ == 0) {
        quiet_since_us_ = now_us;
    }
    return !wifi.connected() || now_us - quiet_since_us_ >= kSettleUs;
}
