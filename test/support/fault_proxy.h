#pragma once
// An HTTP/1.1 proxy for fault tests: forwards every GET to an upstream (a real Consul) and hands
// back its status, body and X-Consul-Index, unless a fault is set for the request's path prefix
// when the answer goes out, in which case it answers what the fault says (its own status and
// body, or the upstream's answer altered: index shifted, a header added, the body stalled, cut
// short or trickled). Runs on a free loopback port, one thread per
// connection (blocking queries hold their connection), stopped by its destructor. Counts the
// requests per path.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tern::testing {

class FaultProxy {
 public:
  struct Fault {
    long status = 200;
    std::string body;        // sent as is (may be malformed or truncated JSON)
    bool moving_index = true;  // a new X-Consul-Index on every answer (the watch delivers it)
    // A blocking query (one with "index=") is answered only after this long, as Consul holds it
    // while nothing changes: a fixed answer with a fixed index then costs no request storm.
    std::chrono::milliseconds hold{0};
    // The fields below apply to the upstream's answer when `forward` is set (status and body
    // above are then ignored), and to the fault's own answer otherwise.
    bool forward = false;
    // An index reset: answers carry the upstream's index minus this (at least 1), and a request's
    // index=N is forwarded as N + this, so the upstream still blocks as a reset server would.
    uint64_t index_offset = 0;
    std::string known_leader;           // "false": adds X-Consul-KnownLeader: false
    bool stall_after_headers = false;   // status line and headers, then nothing (connection held)
    long truncate_at = -1;              // send only this many body bytes (full Content-Length), then close
    int trickle_chunks = 0;             // the body in this many pieces ...
    int trickle_gap_ms = 0;             // ... this far apart
  };

  // "http://127.0.0.1:8500"; `index_header` is the upstream's change index (Nomad: X-Nomad-Index).
  explicit FaultProxy(std::string upstream, std::string index_header = "X-Consul-Index");
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Requests whose path (before '?') starts with `prefix` get `fault`; ClearFaults() forwards again.
  void SetFault(const std::string& prefix, Fault fault);
  void ClearFaults();
  // Requests seen whose path starts with `prefix`.
  long Requests(const std::string& prefix) const;
  // The X-Consul-Index of the last upstream answer to a path starting with `prefix` (0: none yet).
  uint64_t LastUpstreamIndex(const std::string& prefix) const;
  // Their request targets (path and query), in order.
  std::vector<std::string> Targets(const std::string& prefix) const;

 private:
  void AcceptLoop();
  void Serve(int fd);
  int listen_fd_ = -1;
  int port_ = 0;
  std::string upstream_;
  std::string index_header_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::map<std::string, Fault> faults_;
  std::vector<std::string> seen_;  // request paths
  std::vector<std::string> targets_;  // ... with their query
  std::map<std::string, uint64_t> upstream_index_;  // path → last upstream X-Consul-Index
  std::vector<std::thread> workers_;
  std::vector<int> conns_;
  std::atomic<uint64_t> fake_index_{1000000};
};

}  // namespace tern::testing
