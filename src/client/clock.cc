#include "spectrastrike/clock.h"

#include <sodium.h>

#include "common/clock.h"

namespace spectrastrike {

int64_t SystemClock::NowMicros() const { return vv::SystemClock().NowMicros(); }

void SystemRandom::Fill(uint8_t* out, size_t len) { randombytes_buf(out, len); }

}  // namespace spectrastrike
