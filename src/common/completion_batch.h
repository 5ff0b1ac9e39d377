#pragma once
// CompletionBatch: work deferred to the end of a run of completions on one thread (issue 15).
//
// A backend thread that completes many requests in a row - the embedded queue's completion
// thread running the publish callbacks of one commit group - opens a CompletionBatch around
// those callbacks.
// Code running inside a callback may then put per-request work into a Part of the open batch
// (PartFor) instead of doing it at once; every Part is closed once, after the last callback,
// so the group's work is done together (the gateway appends the audit records of a whole
// commit group with one write and only then answers each request). With no batch open on the
// calling thread, Current() is nullptr and callers do the work at once.
//
// Nesting: a CompletionBatch constructed while one is open on the thread is inert (the outer
// one closes everything). Parts are closed in creation order; a Part created while the batch
// is closing (by another Part's Close) is closed in the same pass.
// Thread-safety: a batch belongs to the thread that opened it; Current() is per thread.

#include <memory>
#include <utility>
#include <vector>

namespace vv {

class CompletionBatch {
 public:
  class Part {
   public:
    virtual ~Part() = default;
    // Called once, when the batch closes, on the batch's thread. Must not throw.
    virtual void Close() = 0;
  };

  CompletionBatch();
  ~CompletionBatch();  // closes the batch (unless inert)
  CompletionBatch(const CompletionBatch&) = delete;
  CompletionBatch& operator=(const CompletionBatch&) = delete;

  // The batch open on the calling thread, or nullptr.
  static CompletionBatch* Current();

  // The Part registered under `key` in this batch; made by `make()` (returning
  // std::unique_ptr<P>) and registered when there is none yet.
  template <class P, class Make>
  P& PartFor(const void* key, Make make) {
    for (auto& [k, part] : parts_)
      if (k == key) return static_cast<P&>(*part);
    std::unique_ptr<P> made = make();
    P& ref = *made;
    parts_.emplace_back(key, std::move(made));
    return ref;
  }

  // Closes every Part registered so far (and those they register) and forgets them; the
  // batch stays open. The destructor does the same.
  void Close();

 private:
  bool owner_ = false;
  std::vector<std::pair<const void*, std::unique_ptr<Part>>> parts_;
};

}  // namespace vv
