#pragma once
// A vv::Random that returns scripted bytes first (in order), then a counter stream. Lets a
// test inject the DEK and nonces of an evidence envelope. Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace vv::testing {

class ScriptedRandom final : public Random {
 public:
  void Push(const std::string& bytes) {
    std::lock_guard<std::mutex> l(mu_);
    script_ += bytes;
  }
  void Fill(uint8_t* out, size_t len) override {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < len; ++i) {
      if (pos_ < script_.size()) {
        out[i] = static_cast<uint8_t>(script_[pos_++]);
      } else {
        out[i] = counter_++;
      }
    }
  }

 private:
  std::mutex mu_;
  std::string script_;
  size_t pos_ = 0;
  uint8_t counter_ = 0x42;
};

}  // namespace vv::testing
