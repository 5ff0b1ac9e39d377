#include "spectrastrike/clock.h"

#include "common/clock.h"

namespace spectrastrike {

int64_t SystemClock::NowMicros() const { return vv::SystemClock().NowMicros(); }

void SystemRandom::Fill(uint8_t* out, size_t len) { vv::SystemRandom().Fill(out, len); }

}  // namespace spectrastrike
