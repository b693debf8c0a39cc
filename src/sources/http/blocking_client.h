#pragma once
// A client for Consul-style blocking queries (also Nomad's): long polls that return when the
// watched data changes (or after `wait`), with the change index in a response header.
//
// One thread drives every watch through one libcurl multi handle: a watch is a state machine,
// not a thread. Each watch cycles through
//
//     idle (next_start in the future) ──start──▶ in flight ──done──▶ idle
//
// On success the index from the response header is kept for the next request, following
// Consul's documented rules (https://developer.hashicorp.com/consul/api-docs/features/blocking):
// an index that goes backwards resets to 0 (the server's state was reset, e.g. a restarted dev
// agent), an index below 1 is treated as 1 so that the next request blocks, and the callback runs
// only when the index moved (or on the first answer, or the first answer after a failure). After a
// failure the next request is a plain read (index 0): a restarted server's index may be far below
// the old one, and a blocking request at the old index would hang for the whole wait. On a
// failure (connection refused, timeout, non-2xx) the callback hears about it and the next request
// waits a jittered exponential backoff (backoff_min doubling up to backoff_max, reset by a
// success), so a down server is never polled in a busy loop. Requests are counted per watch and in
// total so that this can be checked from outside. An answer whose body stops coming after its
// headers (body_idle_timeout) is a failure too. A 2xx answer flagged as served without a known
// leader (X-Consul-KnownLeader: false) is delivered as usual, counted and logged once per watch.
// Error texts name the request without index and wait, so a steady failure reads the same on
// every retry. (Each of these is exercised against a real Consul: consul_faults_test.)
//
// Watches can be added and removed from any thread, including from inside a callback. Callbacks
// run on the client's thread, one at a time; after every batch of callbacks the batch hook runs
// (a source re-assembles its model once per batch instead of once per event).
//
// Streams (Stream(): a GET whose body never ends, e.g. Nomad's event stream) run on the same
// thread and handle as the watches, as another kind of watch:
//
//     idle ──start: path()──▶ connecting ──2xx headers: on_open──▶ open ──bytes: on_bytes──▶ open
//       ▲                          │                                  │
//       └──── backoff ◀── on_end ◀─┴──── (refused, non-2xx, idle, cut, end, on_bytes false)
//
// A stream is never "done": whatever ends it (connection refused, a non-2xx answer, no byte for
// stream_idle_timeout, the connection cut, a clean end of the body, or its reader refusing bytes)
// is an end, reported once through on_end, after which the client starts it again after the
// failure backoff (jittered; backoff_min doubling up to stream_backoff_max). A stream that stayed
// open and delivered bytes for stream_healthy_after resets that backoff, so that a stream cut
// after a long life is back within backoff_min. path() is called (on the client thread, with no
// lock of the client held) at each start, so that the caller can resume where it stopped. There is
// no total timeout; the token header and TLS are those of every request, and streams are counted
// in total_requests() and requests(id).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace tern::sources::http {

struct ClientOptions {
  std::string address = "http://127.0.0.1:8500";  // scheme://host:port, no path
  std::string token;                              // sent as `token_header`; never logged
  std::string token_header = "X-Consul-Token";
  std::string index_header = "X-Consul-Index";
  // A 2xx answer carrying this header with the value "false" was served by a server that knows of
  // no cluster leader (a stale read): it is used, counted and logged (once per watch until the
  // leader is known again). "" = not looked at.
  std::string known_leader_header = "X-Consul-KnownLeader";
  std::string datacenter;   // dc= on every request that does not carry its own
  std::string consistency;  // "" / "default", "stale" or "consistent"
  // TLS to the server (https:// addresses).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;  // name to verify (and send as SNI) instead of the address's host
  std::chrono::milliseconds wait{std::chrono::seconds(60)};  // blocking query wait
  std::chrono::milliseconds backoff_min{50};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds connect_timeout{2000};
  // Once the headers of an answer are in, its body must keep coming: no byte for this long aborts
  // the request as a failure (a server or proxy that stalls after the headers would otherwise
  // hold a blocking watch for the whole wait + margin, ~69 s). A body that trickles is not cut.
  // 0 = off (a streaming endpoint with sparse frames, e.g. an event stream, needs that or a
  // value above its heartbeat period).
  std::chrono::milliseconds body_idle_timeout{5000};
  // A server that answers without an index cannot block: such watches poll at this period.
  std::chrono::milliseconds poll_without_index{1000};
  // On-demand watches (Watch(..., on_demand=true)) read at most this many paths at once.
  int max_on_demand_in_flight = 4;
  // Streams (Stream()): no byte at all for this long ends the stream (Nomad's event stream sends a
  // heartbeat every 10 s). Counted from the request's start, so a server that accepts and never
  // answers is caught as well.
  std::chrono::milliseconds stream_idle_timeout{std::chrono::seconds(25)};
  // The failure backoff of streams goes up to this (0 = backoff_max): a stream the server refuses
  // for good (403, 404) is asked again at this pace.
  std::chrono::milliseconds stream_backoff_max{0};
  // A stream that stayed open this long and delivered bytes resets its failure backoff.
  std::chrono::milliseconds stream_healthy_after{std::chrono::seconds(5)};
};

struct Response {
  bool ok = false;          // transport fine and 2xx
  long status = 0;          // HTTP status, 0 when no answer
  std::string body;
  uint64_t index = 0;       // from index_header (after the reset rules), 0 if absent
  bool known_leader = true; // false when known_leader_header said "false" (the answer may be stale)
  std::string error;        // when !ok: what went wrong (never contains the token)
};

using WatchId = uint64_t;
using WatchCallback = std::function<void(const Response&)>;

// What a stream's reader hears, on the client's thread, one call at a time.
struct StreamCallbacks {
  // The headers are in and the status is 2xx: bytes follow.
  std::function<void(long status)> on_open;
  // Each piece of the body as curl delivers it (split anywhere). Returning false ends the stream
  // now (its bytes could not be used): on_end follows and the stream is started again after the
  // failure backoff.
  std::function<bool(std::string_view bytes)> on_bytes;
  // The stream ended: `error` says how (never the token; the request is named without its index),
  // `status` is the HTTP status (0 when none came); `body` holds an error answer's body (cut at
  // 4 KiB), never the stream's bytes. `ok` is always false: a stream is not meant to end.
  std::function<void(const Response&)> on_end;
};

class BlockingClient {
 public:
  explicit BlockingClient(ClientOptions options);
  ~BlockingClient();  // Stop()
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // `path` is the request path with its own query, e.g. "/v1/health/service/web?filter=..."
  // The client adds index, wait, dc and the consistency flag.
  WatchId Watch(const std::string& path, WatchCallback callback);
  // An on-demand watch holds no connection: it reads its path (a plain, non-blocking GET) only
  // when triggered, at most ClientOptions::max_on_demand_in_flight of them at once, and delivers
  // the answer under the same rules as a blocking watch (news only; failures retried with the
  // failure backoff until an answer arrives). A trigger during a read reads once more after it.
  WatchId WatchOnDemand(const std::string& path, WatchCallback callback);
  // A blocking watch that also delivers answers whose bytes did not change when the index moved
  // (a table written without a visible change: e.g. a service re-registered).
  WatchId WatchEveryIndex(const std::string& path, WatchCallback callback);
  // A stream (see the top of this file): `path()` gives the request path at each start. Unwatch
  // ends it (its callbacks are not called after Unwatch returns, on the same terms as a watch's).
  WatchId Stream(std::function<std::string()> path, StreamCallbacks callbacks);
  // `urgent` reads are started before the others that wait for a free slot (a changed service
  // before a background sweep).
  void Trigger(WatchId id, bool urgent = true);
  // Caps the connections the client keeps open (in use and idle) to the server.
  void SetMaxConnections(long n);
  // After Unwatch returns, the watch's callback is not called again (unless Unwatch is called
  // from another thread while that callback is running).
  void Unwatch(WatchId id);
  void SetBatchHook(std::function<void()> hook);
  // Called from a watch's own callback when a successful (2xx) answer could not be used, e.g.
  // malformed JSON: the answer then counts as a failure. The next request waits the failure
  // backoff, does not block, and its answer is delivered even if the index did not move (so a
  // server that answers well again is noticed at once). No effect on an unknown watch.
  void RejectAnswer(WatchId id);
  // An answer the caller already holds for `path` (a successful Get of a full sync): the next
  // Watch of exactly that path starts blocking at its index and does not deliver the same body
  // again. Without it, every watch started after a full sync re-fetched and re-delivered
  // everything the sync had just read (2,000 answers and as many rebuilds at 1,000 services).
  // Only the index and a hash of the body are kept. Failed answers and answers without an index
  // are not seeded. ClearSeeds drops the ones no Watch used.
  struct AnswerSeed {
    bool usable = false;
    uint64_t index = 0;
    size_t body_hash = 0;
    size_t body_size = 0;
  };
  static AnswerSeed SeedOf(const Response& r);
  void Seed(const std::string& path, const AnswerSeed& seed);
  void ClearSeeds();

  void Start();  // starts the driving thread; watches added before Start wait for it
  void Stop();

  // One plain (non-blocking) GET on the calling thread, for a full synchronous read.
  Response Get(const std::string& path) const;

  uint64_t total_requests() const { return total_requests_.load(); }
  // 2xx answers that said the server knows of no leader (see known_leader_header).
  uint64_t leaderless_answers() const { return leaderless_answers_.load(); }
  uint64_t requests(WatchId id) const;  // 0 for an unknown (or removed) watch
  size_t watch_count() const;
  const ClientOptions& options() const { return options_; }

  // The URL a request for `path` goes to (for messages; holds no secret).
  std::string Url(const std::string& path, uint64_t index, bool blocking) const;

 private:
  struct WatchState;
  void Run();
  void StartRequest(WatchState& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks the due streams for their paths (no lock held: path() may lock its caller's state) and
  // starts them.
  void StartStreams(const std::vector<std::shared_ptr<WatchState>>& due) ABSL_LOCKS_EXCLUDED(mu_);
  void FinishStream(WatchState& w, void* easy, int curl_code);
  WatchId Add(const std::string& path, WatchCallback callback, bool on_demand, bool every_index = false);
  void Finish(void* easy, int curl_code);
  std::chrono::milliseconds NextBackoff(int failures, std::chrono::milliseconds max = std::chrono::milliseconds(0));
  // Applies the common options (token, TLS, timeouts) to a curl easy handle.
  void Configure(void* easy, const std::string& url, std::chrono::milliseconds timeout) const;

  const ClientOptions options_;
  void* multi_ = nullptr;  // CURLM*
  mutable std::atomic<uint64_t> total_requests_{0};
  std::atomic<uint64_t> leaderless_answers_{0};

  mutable absl::Mutex mu_;
  std::map<WatchId, std::shared_ptr<WatchState>> watches_ ABSL_GUARDED_BY(mu_);
  std::map<void*, std::shared_ptr<WatchState>> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<WatchState>> removed_ ABSL_GUARDED_BY(mu_);  // still in flight
  WatchId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> batch_hook_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AnswerSeed> seeds_ ABSL_GUARDED_BY(mu_);
  int on_demand_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rng_ ABSL_GUARDED_BY(mu_) = 0x9e3779b97f4a7c15ull;
  std::thread thread_;
};

}  // namespace tern::sources::http
