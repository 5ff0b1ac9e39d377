#pragma once
// A small, thread-safe metrics registry rendered in the Prometheus text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Model: a Registry owns metric families (counter, gauge, histogram); a family owns one child
// per label-value set. Callers resolve a child once (`family.WithLabels({"401", "bad_sig"})`)
// and keep the returned reference: the reference stays valid for the registry's lifetime and
// updating it is a single relaxed atomic operation (no lock, no allocation). Resolving an
// existing child takes a shared lock and does not allocate; only the first use of a new label
// set allocates.
//
// There is no global registry: create one per process (or per test) and pass it down.
// Metric and label names are programmer-chosen constants; an invalid or conflicting name is a
// programming error and aborts at registration (start-up), never on the request path.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace vv::stats {

// A monotonically increasing integer counter. Thread-safe (relaxed atomics).
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that can go up and down. Thread-safe (atomic double, CAS for Add).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  void Sub(double d) { Add(-d); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A histogram with fixed upper bounds (sorted, finite; +Inf is implicit). Observe() is lock-free:
// one atomic increment of the bucket, the count, and a CAS on the sum. Rendered cumulatively.
// Note: a concurrent Render() may see a count that is one observation ahead of the buckets
// (the exposition format tolerates this; Prometheus scrapes are not atomic snapshots either).
class Histogram {
 public:
  // REQUIRES: `upper_bounds` strictly increasing, finite (checked at registration).
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  // Cumulative count of observations <= upper_bounds()[i] (i == size(): all, the +Inf bucket).
  uint64_t CumulativeCount(size_t i) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& upper_bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (last = +Inf)
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Default latency buckets in seconds (0.5 ms .. 10 s), suitable for request verification and
// queue publish latencies; p95/p99 via histogram_quantile().
std::vector<double> DefaultLatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// Common part of a family: name, help, label names, type, and rendering.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }
  // Appends HELP, TYPE and one sample line per child (children sorted by label values).
  virtual void Render(std::string* out) const = 0;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  MetricType type_;
};

namespace internal {
// Ordering of label-value sets that lets a std::map<std::vector<std::string>, ...> be searched
// with a span of string_views (no allocation on lookup).
struct LabelLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};
[[noreturn]] void FatalRegistration(const std::string& message);
void AppendSample(std::string* out, std::string_view name,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view extra_label,
                  std::string_view extra_value, std::string_view value);
std::string FormatDouble(double v);
}  // namespace internal

// A family of metrics of type T (Counter, Gauge or Histogram) sharing a name and label names.
// Thread-safe. Children are created on first use and live as long as the family (the registry).
template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
         std::function<std::unique_ptr<T>()> factory)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
        factory_(std::move(factory)) {}

  // The child for these label values (one per label name, in declaration order). Returns a
  // reference that callers should cache. A wrong number of values is a programming error.
  T& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& WithLabels(std::span<const std::string_view> values) {
    if (values.size() != label_names().size())
      internal::FatalRegistration("metric " + name() + ": expected " +
                                  std::to_string(label_names().size()) + " label values, got " +
                                  std::to_string(values.size()));
    {
      ReaderMutexLock lock(&mu_);
      auto it = children_.find(values);
      if (it != children_.end()) return *it->second;
    }
    WriterMutexLock lock(&mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::vector<std::string> key(values.begin(), values.end());
    auto [ins, ok] = children_.emplace(std::move(key), factory_());
    return *ins->second;
  }
  // Visits every child (sorted by label values) under a shared lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
    ReaderMutexLock lock(&mu_);
    for (const auto& [k, v] : children_) fn(k, *v);
  }
  void Render(std::string* out) const override;

 private:
  std::function<std::unique_ptr<T>()> factory_;
  mutable SharedMutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, internal::LabelLess> children_
      VV_GUARDED_BY(mu_);
};

template <>
void Family<Counter>::Render(std::string* out) const;
template <>
void Family<Gauge>::Render(std::string* out) const;
template <>
void Family<Histogram>::Render(std::string* out) const;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns metric families and renders them. Thread-safe: registration takes an exclusive lock,
// Render() a shared one; metric updates never touch the registry lock.
// Ownership: families and their children live as long as the Registry; references returned by
// the Add*/WithLabels functions must not outlive it.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering an existing name with the same type and label names returns the existing
  // family; an invalid name or a conflicting re-registration aborts (programming error).
  CounterFamily& AddCounterFamily(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names);
  GaugeFamily& AddGaugeFamily(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names);
  HistogramFamily& AddHistogramFamily(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> upper_bounds);
  // Unlabelled shorthands: the single child of a family without labels.
  Counter& AddCounter(std::string_view name, std::string_view help);
  Gauge& AddGauge(std::string_view name, std::string_view help);
  Histogram& AddHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds);
  // A counter whose (fractional) value is sampled from elsewhere, e.g. CPU seconds from
  // /proc: rendered with TYPE counter; the caller Set()s it and only ever moves it forward.
  Gauge& AddSampledCounter(std::string_view name, std::string_view help);

  // The whole registry in text format 0.0.4, families sorted by name.
  std::string Render() const;
  // Names of the registered families (sorted).
  std::vector<std::string> FamilyNames() const;
  // Every sample name a scrape can contain: counters/gauges by family name, histograms as
  // <name>_bucket, <name>_sum and <name>_count (sorted). Used to check dashboards and alerts.
  std::vector<std::string> SampleNames() const;
  // The family, or nullptr.
  const FamilyBase* Find(std::string_view name) const;

  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  FamilyBase& AddFamily(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names, MetricType type,
                        const std::function<std::unique_ptr<FamilyBase>()>& make);

  mutable SharedMutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ VV_GUARDED_BY(mu_);
};

// Name checks of the data model: metric [a-zA-Z_:][a-zA-Z0-9_:]*, label [a-zA-Z_][a-zA-Z0-9_]*
// and not starting with "__" (reserved).
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// Escaping of the exposition format: label values escape \ " and newline; HELP text escapes
// \ and newline.
std::string EscapeLabelValue(std::string_view v);
std::string EscapeHelp(std::string_view v);

}  // namespace vv::stats
