#include "stats/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace vv::stats {

namespace {

void AtomicAdd(std::atomic<double>* a, double d) {
  double cur = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHeader(const FamilyBase& f, std::string* out) {
  out->append("# HELP ").append(f.name()).append(" ").append(EscapeHelp(f.help())).append("\n");
  out->append("# TYPE ").append(f.name()).append(" ").append(TypeName(f.type())).append("\n");
}

}  // namespace

// ---- Metrics ---------------------------------------------------------------------------------

void Gauge::Add(double d) { AtomicAdd(&value_, d); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bucket whose upper bound is >= v ("le" semantics); NaN lands in +Inf.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  if (std::isnan(v)) i = bounds_.size();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, v);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b <= bounds_.size(); ++b)
    total += buckets_[b].load(std::memory_order_relaxed);
  return total;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---- Formatting --------------------------------------------------------------------------------

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace internal {

[[noreturn]] void FatalRegistration(const std::string& message) {
  std::fprintf(stderr, "vv::stats: fatal registration error: %s\n", message.c_str());
  std::abort();
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, p);
}

void AppendSample(std::string* out, std::string_view name,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view extra_label,
                  std::string_view extra_value, std::string_view value) {
  out->append(name);
  if (!label_names.empty() || !extra_label.empty()) {
    out->push_back('{');
    bool first = true;
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (!first) out->push_back(',');
      first = false;
      out->append(label_names[i]).append("=\"").append(EscapeLabelValue(label_values[i]));
      out->push_back('"');
    }
    if (!extra_label.empty()) {
      if (!first) out->push_back(',');
      out->append(extra_label).append("=\"").append(extra_value).push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(value);
  out->push_back('\n');
}

}  // namespace internal

// ---- Families ----------------------------------------------------------------------------------

template <>
void Family<Counter>::Render(std::string* out) const {
  AppendHeader(*this, out);
  ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
    internal::AppendSample(out, name(), label_names(), labels, "", "", std::to_string(c.value()));
  });
}

template <>
void Family<Gauge>::Render(std::string* out) const {
  AppendHeader(*this, out);
  ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
    internal::AppendSample(out, name(), label_names(), labels, "", "",
                           internal::FormatDouble(g.value()));
  });
}

template <>
void Family<Histogram>::Render(std::string* out) const {
  AppendHeader(*this, out);
  const std::string bucket = name() + "_bucket";
  ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
    // Read the buckets once so the cumulative series is monotonic; the +Inf bucket and
    // _count are the same number.
    uint64_t cumulative = 0;
    const auto& bounds = h.upper_bounds();
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative = h.CumulativeCount(i);
      internal::AppendSample(out, bucket, label_names(), labels, "le",
                             internal::FormatDouble(bounds[i]), std::to_string(cumulative));
    }
    uint64_t total = std::max(cumulative, h.CumulativeCount(bounds.size()));
    internal::AppendSample(out, bucket, label_names(), labels, "le", "+Inf", std::to_string(total));
    internal::AppendSample(out, name() + "_sum", label_names(), labels, "", "",
                           internal::FormatDouble(h.sum()));
    internal::AppendSample(out, name() + "_count", label_names(), labels, "", "",
                           std::to_string(total));
  });
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry ----------------------------------------------------------------------------------

FamilyBase& Registry::AddFamily(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names, MetricType type,
                                const std::function<std::unique_ptr<FamilyBase>()>& make) {
  if (!IsValidMetricName(name))
    internal::FatalRegistration("invalid metric name '" + std::string(name) + "'");
  for (const auto& l : label_names) {
    if (!IsValidLabelName(l) || l == "le")
      internal::FatalRegistration("metric " + std::string(name) + ": invalid label name '" + l +
                                  "'");
  }
  WriterMutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->type() != type || it->second->label_names() != label_names)
      internal::FatalRegistration("metric " + std::string(name) +
                                  " re-registered with a different type or labels");
    return *it->second;
  }
  auto fam = make();
  FamilyBase& ref = *fam;
  families_.emplace(std::string(name), std::move(fam));
  return ref;
}

CounterFamily& Registry::AddCounterFamily(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names) {
  auto labels = label_names;
  return static_cast<CounterFamily&>(
      AddFamily(name, help, std::move(label_names), MetricType::kCounter, [&] {
        return std::make_unique<CounterFamily>(std::string(name), std::string(help),
                                               std::move(labels), MetricType::kCounter,
                                               [] { return std::make_unique<Counter>(); });
      }));
}

GaugeFamily& Registry::AddGaugeFamily(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names) {
  auto labels = label_names;
  return static_cast<GaugeFamily&>(
      AddFamily(name, help, std::move(label_names), MetricType::kGauge, [&] {
        return std::make_unique<GaugeFamily>(std::string(name), std::string(help),
                                             std::move(labels), MetricType::kGauge,
                                             [] { return std::make_unique<Gauge>(); });
      }));
}

HistogramFamily& Registry::AddHistogramFamily(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1]))
      internal::FatalRegistration("histogram " + std::string(name) +
                                  ": bucket bounds must be finite and strictly increasing");
  }
  auto labels = label_names;
  return static_cast<HistogramFamily&>(
      AddFamily(name, help, std::move(label_names), MetricType::kHistogram, [&] {
        return std::make_unique<HistogramFamily>(
            std::string(name), std::string(help), std::move(labels), MetricType::kHistogram,
            [bounds = upper_bounds] { return std::make_unique<Histogram>(bounds); });
      }));
}

Counter& Registry::AddCounter(std::string_view name, std::string_view help) {
  return AddCounterFamily(name, help, {}).WithLabels({});
}

Gauge& Registry::AddGauge(std::string_view name, std::string_view help) {
  return AddGaugeFamily(name, help, {}).WithLabels({});
}

Gauge& Registry::AddSampledCounter(std::string_view name, std::string_view help) {
  FamilyBase& f = AddFamily(name, help, {}, MetricType::kCounter, [&] {
    return std::make_unique<GaugeFamily>(std::string(name), std::string(help),
                                         std::vector<std::string>{}, MetricType::kCounter,
                                         [] { return std::make_unique<Gauge>(); });
  });
  auto* g = dynamic_cast<GaugeFamily*>(&f);
  if (g == nullptr)
    internal::FatalRegistration("metric " + std::string(name) +
                                " re-registered as a sampled counter");
  return g->WithLabels({});
}

Histogram& Registry::AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> upper_bounds) {
  return AddHistogramFamily(name, help, {}, std::move(upper_bounds)).WithLabels({});
}

std::string Registry::Render() const {
  std::string out;
  ReaderMutexLock lock(&mu_);
  for (const auto& [name, fam] : families_) fam->Render(&out);
  return out;
}

std::vector<std::string> Registry::FamilyNames() const {
  std::vector<std::string> out;
  ReaderMutexLock lock(&mu_);
  for (const auto& [name, fam] : families_) out.push_back(name);
  return out;
}

std::vector<std::string> Registry::SampleNames() const {
  std::vector<std::string> out;
  ReaderMutexLock lock(&mu_);
  for (const auto& [name, fam] : families_) {
    if (fam->type() == MetricType::kHistogram) {
      out.push_back(name + "_bucket");
      out.push_back(name + "_sum");
      out.push_back(name + "_count");
    } else {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const FamilyBase* Registry::Find(std::string_view name) const {
  ReaderMutexLock lock(&mu_);
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : it->second.get();
}

}  // namespace vv::stats
