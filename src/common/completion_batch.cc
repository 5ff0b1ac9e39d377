#include "common/completion_batch.h"

namespace vv {
namespace {
thread_local CompletionBatch* current_batch = nullptr;
}  // namespace

CompletionBatch::CompletionBatch() {
  if (current_batch == nullptr) {
    current_batch = this;
    owner_ = true;
  }
}

CompletionBatch::~CompletionBatch() {
  if (!owner_) return;
  Close();
  current_batch = nullptr;
}

CompletionBatch* CompletionBatch::Current() { return current_batch; }

void CompletionBatch::Close() {
  while (!parts_.empty()) {
    std::vector<std::pair<const void*, std::unique_ptr<Part>>> closing;
    closing.swap(parts_);
    for (auto& [key, part] : closing) part->Close();
  }
}

}  // namespace vv
