#pragma once
// What a source can say about itself for /debug/sources and /readyz. Kept apart from source.h
// so that the Source interface stays minimal; a source that reports status also implements
// StatusReporter, and the admin layer asks for it with dynamic_cast.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace tern::sources {

struct SourceStatus {
  std::string name;
  bool synced = false;  // at least one successful sync
  uint64_t index = 0;   // generation: bumped on every successful sync that produced a fragment
  std::chrono::system_clock::time_point last_sync;  // of the last successful sync
  std::string last_error;  // "" while the latest attempt succeeded
  // Watching sources (Consul, Nomad): `index` is the remote's index of the source's main listing
  // (X-Consul-Index of the catalog, X-Nomad-Index of /v1/services); the blocking queries held; and
  // every endpoint whose last answer failed, with its error (its last good data is what is used).
  size_t watches = 0;
  std::map<std::string, std::string> failing;
  // What works, but a slower way than configured, by subject → why (the Nomad source: "event
  // stream" → "falling back to blocking queries: HTTP 403 ..."). The data stays current, so this
  // is not a failure: not in `failing`, not an error the core sees, never `serving_last_good`.
  std::map<std::string, std::string> degraded;
  // What else the source says about its state, by subject (the Nomad source: each job's traffic
  // plan, "job web (default)" → "job web (default) deployment 70638f62 running, phase canary: ...").
  std::map<std::string, std::string> details;
};

class StatusReporter {
 public:
  virtual ~StatusReporter() = default;
  virtual SourceStatus status() const = 0;
};

// A source with its own counters (e.g. requests made to Consul) appends them to /metrics, in the
// Prometheus text format, names `tern_<source kind>_*`.
class MetricsReporter {
 public:
  virtual ~MetricsReporter() = default;
  virtual std::string MetricsText() const = 0;
};

}  // namespace tern::sources
