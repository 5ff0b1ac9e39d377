#pragma once
// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html),
// modelled on Abseil's absl/base/thread_annotations.h and leveldb's port/thread_annotations.h.
// Under clang they expand to the attributes the analysis (-Wthread-safety, on in the top-level
// CMakeLists.txt, an error there) checks; under any other compiler (GCC) to nothing.
//
// Use them with the annotated lock types of common/mutex.h (vv::Mutex, vv::MutexLock, ...):
// libstdc++'s std::mutex carries no annotations, so the analysis cannot see it.
//
//   mutable vv::Mutex mu_;
//   int64_t count_ VV_GUARDED_BY(mu_) = 0;       // read or written only with mu_ held
//   void BumpLocked() VV_REQUIRES(mu_);           // caller holds mu_
//   void Flush() VV_EXCLUDES(mu_);                // takes mu_ itself

#if defined(__clang__)
#define VV_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define VV_THREAD_ANNOTATION_(x)
#endif

// Data members: the capability that must be held to read (shared) or write (exclusive) it.
#define VV_GUARDED_BY(x) VV_THREAD_ANNOTATION_(guarded_by(x))
// Pointer members: the capability that must be held to access the pointee.
#define VV_PT_GUARDED_BY(x) VV_THREAD_ANNOTATION_(pt_guarded_by(x))

// Lock ordering between capabilities (checked only with -Wthread-safety-beta).
#define VV_ACQUIRED_AFTER(...) VV_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
#define VV_ACQUIRED_BEFORE(...) VV_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))

// Functions: the caller must hold the capabilities, exclusively or shared.
#define VV_REQUIRES(...) VV_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define VV_REQUIRES_SHARED(...) VV_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))

// Functions that acquire / release a capability (no argument: `this`).
#define VV_ACQUIRE(...) VV_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define VV_ACQUIRE_SHARED(...) VV_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define VV_RELEASE(...) VV_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define VV_RELEASE_SHARED(...) VV_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define VV_RELEASE_GENERIC(...) VV_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
// First argument: the return value that means "acquired".
#define VV_TRY_ACQUIRE(...) VV_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define VV_TRY_ACQUIRE_SHARED(...) \
  VV_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))

// The caller must NOT hold the capabilities (the function takes them; non-reentrant locks).
#define VV_EXCLUDES(...) VV_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))

// A runtime check that the capability is held; the analysis assumes it afterwards.
#define VV_ASSERT_CAPABILITY(x) VV_THREAD_ANNOTATION_(assert_capability(x))
#define VV_ASSERT_SHARED_CAPABILITY(x) VV_THREAD_ANNOTATION_(assert_shared_capability(x))

// The function returns a reference to the given capability (an accessor of a mutex).
#define VV_RETURN_CAPABILITY(x) VV_THREAD_ANNOTATION_(lock_returned(x))

// Classes: a lock type (the string names it in diagnostics: "requires holding mutex 'mu_'"),
// and an RAII type whose constructor acquires and destructor releases.
#define VV_CAPABILITY(x) VV_THREAD_ANNOTATION_(capability(x))
#define VV_SCOPED_CAPABILITY VV_THREAD_ANNOTATION_(scoped_lockable)

// Turns the analysis off for one function. Only for code the analysis cannot follow and that is
// known correct (say why at the use); never to silence a real finding.
#define VV_NO_THREAD_SAFETY_ANALYSIS VV_THREAD_ANNOTATION_(no_thread_safety_analysis)
