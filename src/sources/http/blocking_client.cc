#include "sources/http/blocking_client.h"

#include <functional>
#include <string_view>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/utf8.h"

namespace tern::sources::http {
namespace {

using Clock = std::chrono::steady_clock;

// curl_global_init is not thread-safe; do it once, before any handle exists.
void GlobalInit() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

struct Split {
  std::string scheme, host, port;
};

Split SplitAddress(const std::string& address) {
  Split s;
  std::string rest = address;
  if (auto p = rest.find("://"); p != std::string::npos) {
    s.scheme = rest.substr(0, p);
    rest = rest.substr(p + 3);
  } else {
    s.scheme = "http";
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (auto p = rest.rfind(':'); p != std::string::npos && rest.find(']', p) == std::string::npos) {
    s.host = rest.substr(0, p);
    s.port = rest.substr(p + 1);
  } else {
    s.host = rest;
    s.port = s.scheme == "https" ? "443" : "80";
  }
  return s;
}

bool HeaderIs(const std::string& line, const std::string& name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
      return false;
  }
  return true;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// What one request collects while it runs (on the client's thread only).
struct Transfer {
  std::string body;
  std::string index_header;  // lower-cased name to look for
  std::string known_leader_header;
  bool have_index = false;
  uint64_t index = 0;
  bool known_leader = true;
  bool headers_done = false;  // the blank line after the headers arrived
  bool stalled = false;       // aborted: the body stopped coming (body_idle_timeout)
  Clock::time_point last_byte = Clock::now();
  curl_slist* headers = nullptr;
  // Streams only: the reader, and what became of the transfer so far.
  const StreamCallbacks* stream = nullptr;
  const std::atomic<bool>* removed = nullptr;  // the stream was unwatched: its reader hears nothing more
  CURL* easy = nullptr;
  bool opened = false;    // 2xx headers came (on_open was called)
  bool got_bytes = false;  // ... and body bytes after them
  bool refused = false;   // the reader's on_bytes returned false
  Clock::time_point opened_at;
};

// An error answer's body is kept for its message, up to this much (a stream's own bytes go to its
// reader and are never kept).
constexpr size_t kStreamErrorBody = 4096;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->last_byte = Clock::now();
  if (t->stream == nullptr) {
    t->body.append(data, size * n);
    return size * n;
  }
  if (!t->opened) {  // an error answer: kept (in part) for on_end's message
    t->body.append(data, std::min(size * n, kStreamErrorBody - std::min(kStreamErrorBody, t->body.size())));
    return size * n;
  }
  t->got_bytes = true;
  if (t->removed->load() || !t->stream->on_bytes) return size * n;
  if (!t->stream->on_bytes(std::string_view(data, size * n))) {
    t->refused = true;
    return 0;  // anything but size * n makes curl end the transfer (CURLE_WRITE_ERROR)
  }
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  t->last_byte = Clock::now();
  if (line == "\r\n" || line == "\n") {
    t->headers_done = true;
    if (t->stream != nullptr && !t->opened) {
      long status = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
      // 1xx header blocks (100 Continue) come before the real answer: wait for it.
      if (status >= 200 && status < 300) {
        t->opened = true;
        t->opened_at = t->last_byte;
        if (!t->removed->load() && t->stream->on_open) t->stream->on_open(status);
      }
    }
  }
  if (!t->known_leader_header.empty() && HeaderIs(line, t->known_leader_header)) {
    std::string v = Trim(line.substr(t->known_leader_header.size() + 1));
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    t->known_leader = v != "false";
  }
  if (HeaderIs(line, t->index_header)) {
    std::string v = Trim(line.substr(t->index_header.size() + 1));
    char* end = nullptr;
    unsigned long long parsed = std::strtoull(v.c_str(), &end, 10);
    if (!v.empty() && end && *end == '\0') {
      t->have_index = true;
      t->index = parsed;
    }
  }
  return size * n;
}

// `url` names the request in error texts: without index and wait, so that the same failure of a
// watch reads the same whether it hit a blocking or a plain request (and is reported once).
Response Complete(CURL* easy, CURLcode code, Transfer& t, const std::string& url, int64_t stall_ms = 0) {
  Response r;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
  r.body = std::move(t.body);
  r.index = t.have_index ? t.index : 0;
  r.known_leader = t.known_leader;
  if (t.stalled) {
    r.error = SanitizeUtf8("GET " + url + ": the answer stalled after its headers (no byte for " +
                           std::to_string(stall_ms) + " ms)");
  } else if (code != CURLE_OK) {
    r.error = SanitizeUtf8(std::string("GET ") + url + ": " + curl_easy_strerror(code));
  } else if (r.status < 200 || r.status >= 300) {
    // The body of an error answer is whatever the server (or a proxy in front of it) sent: it is
    // cut at a character boundary and made valid UTF-8 here, where the error text is made, because
    // this text is shown as JSON by /debug/sources (which would otherwise fail on it).
    std::string snippet = TruncateUtf8(r.body, 200);
    while (!snippet.empty() && (snippet.back() == '\n' || snippet.back() == '\r')) snippet.pop_back();
    r.error = SanitizeUtf8("GET " + url + ": HTTP " + std::to_string(r.status)) + (snippet.empty() ? "" : ": " + snippet);
  } else {
    r.ok = true;
  }
  return r;
}

// `path` without its index=N query parameter: a stream resumes at a new index at each start, and
// its failures must read the same on every retry (each is reported once).
std::string WithoutIndex(const std::string& path) {
  const size_t q = path.find('?');
  if (q == std::string::npos) return path;
  std::string out = path.substr(0, q);
  char sep = '?';
  size_t start = q + 1;
  while (start <= path.size()) {
    size_t end = path.find('&', start);
    if (end == std::string::npos) end = path.size();
    const std::string param = path.substr(start, end - start);
    if (!param.empty() && param.rfind("index=", 0) != 0) {
      out += sep;
      out += param;
      sep = '&';
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

struct BlockingClient::WatchState {
  WatchId id = 0;
  std::string path;
  WatchCallback callback;
  uint64_t index = 0;       // for the next request
  uint64_t last_seen = 0;   // the index of the last delivered answer
  bool delivered = false;   // a successful answer was delivered since the last failure
  size_t last_body_hash = 0;  // of the last delivered body: an answer with the same bytes is not news
  size_t last_body_size = 0;
  int failures = 0;         // in a row
  int failures_before = 0;  // `failures` before the last success (RejectAnswer continues it)
  Clock::time_point next_start = Clock::now();
  CURL* easy = nullptr;     // set while in flight
  std::string url;
  Transfer transfer;
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> removed{false};
  bool on_demand = false;
  bool triggered = false;   // on demand: a read is wanted
  bool urgent = false;      // ... before the non-urgent ones
  bool every_index = false;  // deliver index moves even with the same bytes
  bool leaderless = false;   // the last answer said the server knows of no leader (logged once)
  // Streams (Stream()): the path at each start, and the reader.
  bool stream = false;
  std::function<std::string()> stream_path;
  StreamCallbacks stream_callbacks;
};

BlockingClient::BlockingClient(ClientOptions options) : options_(std::move(options)) {
  GlobalInit();
  multi_ = curl_multi_init();
}

BlockingClient::~BlockingClient() {
  Stop();
  absl::MutexLock lock(&mu_);
  for (auto& [easy, w] : in_flight_) {
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
    curl_easy_cleanup(static_cast<CURL*>(easy));
    curl_slist_free_all(w->transfer.headers);
  }
  in_flight_.clear();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

std::string BlockingClient::Url(const std::string& path, uint64_t index, bool blocking) const {
  Split a = SplitAddress(options_.address);
  std::string host = options_.server_name.empty() ? a.host : options_.server_name;
  std::string url = a.scheme + "://" + host + ":" + a.port + path;
  std::vector<std::string> params;
  if (blocking && index > 0) {
    params.push_back("index=" + std::to_string(index));
    params.push_back("wait=" + std::to_string(options_.wait.count()) + "ms");
  }
  if (!options_.datacenter.empty() && path.find("dc=") == std::string::npos) {
    char* esc = curl_easy_escape(nullptr, options_.datacenter.c_str(), 0);
    params.push_back(std::string("dc=") + esc);
    curl_free(esc);
  }
  if (options_.consistency == "stale") params.push_back("stale");
  if (options_.consistency == "consistent") params.push_back("consistent");
  char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& p : params) {
    url += sep;
    url += p;
    sep = '&';
  }
  return url;
}

void BlockingClient::Configure(void* handle, const std::string& url, std::chrono::milliseconds timeout) const {
  CURL* easy = static_cast<CURL*>(handle);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.cert_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLCERT, options_.cert_file.c_str());
  if (!options_.key_file.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, options_.key_file.c_str());
  // CURLOPT_CONNECT_TO keeps its list pointer; one per process is enough (options are const).
  if (!options_.server_name.empty()) {
    static thread_local curl_slist* connect_to = nullptr;
    static thread_local std::string built_for;
    Split a = SplitAddress(options_.address);
    std::string entry = options_.server_name + ":" + a.port + ":" + a.host + ":" + a.port;
    if (built_for != entry) {
      curl_slist_free_all(connect_to);
      connect_to = curl_slist_append(nullptr, entry.c_str());
      built_for = entry;
    }
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connect_to);
  }
}

WatchId BlockingClient::Watch(const std::string& path, WatchCallback callback) {
  return Add(path, std::move(callback), false);
}

WatchId BlockingClient::WatchOnDemand(const std::string& path, WatchCallback callback) {
  return Add(path, std::move(callback), true);
}

WatchId BlockingClient::WatchEveryIndex(const std::string& path, WatchCallback callback) {
  return Add(path, std::move(callback), false, true);
}

WatchId BlockingClient::Stream(std::function<std::string()> path, StreamCallbacks callbacks) {
  auto w = std::make_shared<WatchState>();
  w->stream = true;
  w->stream_path = std::move(path);
  w->stream_callbacks = std::move(callbacks);
  WatchId id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    w->id = id;
    watches_[id] = w;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return id;
}

void BlockingClient::Trigger(WatchId id, bool urgent) {
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(id);
    if (it == watches_.end() || !it->second->on_demand) return;
    it->second->triggered = true;
    it->second->urgent = it->second->urgent || urgent;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void BlockingClient::SetMaxConnections(long n) {
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS, n);
}

WatchId BlockingClient::Add(const std::string& path, WatchCallback callback, bool on_demand, bool every_index) {
  auto w = std::make_shared<WatchState>();
  w->path = path;
  w->callback = std::move(callback);
  w->on_demand = on_demand;
  w->every_index = every_index;
  WatchId id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    w->id = id;
    if (auto it = seeds_.find(path); it != seeds_.end()) {
      w->index = it->second.index;
      w->last_seen = it->second.index;
      w->delivered = true;
      w->last_body_hash = it->second.body_hash;
      w->last_body_size = it->second.body_size;
      seeds_.erase(it);
    }
    watches_[id] = w;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return id;
}

BlockingClient::AnswerSeed BlockingClient::SeedOf(const Response& r) {
  if (!r.ok || r.index == 0) return {};
  return {true, r.index, std::hash<std::string_view>{}(r.body), r.body.size()};
}

void BlockingClient::Seed(const std::string& path, const AnswerSeed& seed) {
  if (!seed.usable) return;
  absl::MutexLock lock(&mu_);
  seeds_[path] = seed;
}

void BlockingClient::ClearSeeds() {
  absl::MutexLock lock(&mu_);
  seeds_.clear();
}

void BlockingClient::Unwatch(WatchId id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    it->second->removed = true;
    if (it->second->easy) removed_.push_back(it->second);
    watches_.erase(it);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void BlockingClient::SetBatchHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  batch_hook_ = std::move(hook);
}

void BlockingClient::RejectAnswer(WatchId id) {
  std::shared_ptr<WatchState> w;
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(id);
    if (it == watches_.end() || it->second->stream) return;
    w = it->second;
  }
  // The watch is idle here (its callback runs after Finish), so only this thread touches it.
  // A rejected answer continues the failure streak, so rejections back off like failures do.
  w->failures = w->failures_before + 1;
  w->failures_before = 0;
  w->delivered = false;
  w->index = 0;
  w->next_start = Clock::now() + NextBackoff(w->failures);
  if (w->on_demand) {
    absl::MutexLock lock(&mu_);
    w->triggered = true;  // read again after the backoff
  }
}

uint64_t BlockingClient::requests(WatchId id) const {
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(id);
  return it == watches_.end() ? 0 : it->second->requests.load();
}

size_t BlockingClient::watch_count() const {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

void BlockingClient::Start() {
  absl::MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void BlockingClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  running_ = false;
}

std::chrono::milliseconds BlockingClient::NextBackoff(int failures, std::chrono::milliseconds max) {
  const int64_t cap = max.count() > 0 ? max.count() : options_.backoff_max.count();
  int64_t base = options_.backoff_min.count();
  for (int i = 1; i < failures && base < cap; ++i) base *= 2;
  base = std::max<int64_t>(1, std::min<int64_t>(base, cap));
  uint64_t r;
  {
    absl::MutexLock lock(&mu_);
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    r = rng_;
  }
  // Uniform in [base/2, base]: spread, but never much shorter than the schedule.
  int64_t half = base / 2;
  return std::chrono::milliseconds(half + static_cast<int64_t>(r % static_cast<uint64_t>(base - half + 1)));
}

void BlockingClient::StartStreams(const std::vector<std::shared_ptr<WatchState>>& due) {
  for (const auto& w : due) {
    std::string path = w->stream_path ? w->stream_path() : std::string();
    absl::MutexLock lock(&mu_);
    if (w->removed || w->easy || stopping_) continue;
    w->path = std::move(path);
    StartRequest(*w);
  }
}

void BlockingClient::StartRequest(WatchState& w) {
  CURL* easy = curl_easy_init();
  w.transfer = Transfer{};
  if (w.stream) {
    w.url = Url(w.path, 0, /*blocking=*/false);
    w.transfer.stream = &w.stream_callbacks;
    w.transfer.removed = &w.removed;
    w.transfer.easy = easy;
    Configure(easy, w.url, std::chrono::milliseconds(0));  // no total timeout: only the idle one
  } else {
    w.url = Url(w.path, w.index, /*blocking=*/!w.on_demand);
    if (w.on_demand) {
      w.triggered = false;  // a trigger from now on asks for another read
      w.urgent = false;
      on_demand_in_flight_++;
    }
    w.transfer.index_header = options_.index_header;
    w.transfer.known_leader_header = options_.known_leader_header;
    // Consul adds up to wait/16 of jitter to the wait; allow for it and for the network.
    auto timeout = w.index > 0 && !w.on_demand ? options_.wait + options_.wait / 16 + std::chrono::milliseconds(5000)
                                               : std::chrono::milliseconds(10000);
    Configure(easy, w.url, timeout);
  }
  if (!options_.token.empty()) {
    w.transfer.headers = curl_slist_append(nullptr, (options_.token_header + ": " + options_.token).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, w.transfer.headers);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &w.transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &w.transfer);
  w.easy = easy;
  w.requests++;
  total_requests_++;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  in_flight_[easy] = watches_[w.id];
}

void BlockingClient::Finish(void* handle, int code) {
  CURL* easy = static_cast<CURL*>(handle);
  std::shared_ptr<WatchState> w;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(easy);
    if (it == in_flight_.end()) return;
    w = it->second;
    in_flight_.erase(it);
    if (w->on_demand) on_demand_in_flight_--;
  }
  if (w->stream) return FinishStream(*w, easy, code);
  Response r = Complete(easy, static_cast<CURLcode>(code), w->transfer, Url(w->path, 0, /*blocking=*/false),
                        options_.body_idle_timeout.count());
  if (r.ok && !r.known_leader) {
    leaderless_answers_++;
    if (!w->leaderless) {
      spdlog::warn("{}{}: answered by a server that knows of no cluster leader ({}: false); using the answer, "
                   "which may be stale",
                   options_.address, w->path, options_.known_leader_header);
    }
    w->leaderless = true;
  } else if (r.ok && w->leaderless) {
    spdlog::info("{}{}: the server knows its cluster leader again", options_.address, w->path);
    w->leaderless = false;
  }
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  curl_easy_cleanup(easy);
  curl_slist_free_all(w->transfer.headers);
  w->transfer.headers = nullptr;
  const bool have_index = w->transfer.have_index;
  const auto now = Clock::now();
  bool deliver = true;
  if (r.ok) {
    const uint64_t seen = r.index;
    // Only news is delivered. A blocking query also returns when its wait runs out, and Consul
    // wakes every query of a table when anything in it is written (its index moves for all),
    // so at 1,000 services one unrelated write brought 1,000 identical answers, each decoded
    // and each triggering a rebuild of the world. The same bytes as the last delivered answer
    // are not news, whatever the index says.
    const size_t body_hash = std::hash<std::string_view>{}(r.body);
    const bool same_body = w->delivered && body_hash == w->last_body_hash && r.body.size() == w->last_body_size;
    deliver = !w->delivered || (!same_body && (seen != w->last_seen || !have_index)) ||
              (w->every_index && have_index && seen != w->last_seen);
    if (deliver) {
      w->last_body_hash = body_hash;
      w->last_body_size = r.body.size();
    }
    if (!have_index) {
      w->index = 0;
      w->next_start = now + options_.poll_without_index;
    } else {
      // Consul's rules: backwards → start over from 0; never block on an index below 1.
      uint64_t next = seen < w->index ? 0 : std::max<uint64_t>(seen, 1);
      w->index = next;
      w->next_start = now;
    }
    w->last_seen = seen;
    w->delivered = true;
    w->failures_before = w->failures;
    w->failures = 0;
  } else {
    w->failures++;
    w->delivered = false;
    // The server may have restarted with a reset index: a blocking request at the old index
    // would then hang for the whole wait. The first request after a failure does not block.
    w->index = 0;
    w->next_start = now + NextBackoff(w->failures);
  }
  {
    absl::MutexLock lock(&mu_);
    w->easy = nullptr;
    if (w->on_demand && !r.ok) w->triggered = true;  // read again after the backoff
  }
  if (deliver && !w->removed) w->callback(r);
}

void BlockingClient::FinishStream(WatchState& w, void* handle, int code) {
  CURL* easy = static_cast<CURL*>(handle);
  Transfer& t = w.transfer;
  const std::string url = Url(WithoutIndex(w.path), 0, /*blocking=*/false);
  Response r = Complete(easy, static_cast<CURLcode>(code), t, url);
  if (t.stalled) {
    r.error = SanitizeUtf8("GET " + url + ": no byte for " + std::to_string(options_.stream_idle_timeout.count()) +
                           " ms (the stream's idle timeout)");
  } else if (t.refused) {
    r.error = SanitizeUtf8("GET " + url + ": ended by tern: what came could not be used");
  } else if (r.ok) {
    r.error = SanitizeUtf8("GET " + url + ": the stream ended");
  }
  r.ok = false;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
  curl_easy_cleanup(easy);
  curl_slist_free_all(t.headers);
  t.headers = nullptr;
  const auto now = Clock::now();
  // A stream that lived (open, bytes flowing) for a while starts its backoff over: a cut after
  // hours is back within backoff_min; one refused or cut at once backs off further each time.
  if (t.opened && t.got_bytes && now - t.opened_at >= options_.stream_healthy_after) w.failures = 0;
  w.failures++;
  w.next_start = now + NextBackoff(w.failures, options_.stream_backoff_max);
  {
    absl::MutexLock lock(&mu_);
    w.easy = nullptr;
  }
  if (!w.removed && w.stream_callbacks.on_end) w.stream_callbacks.on_end(r);
}

void BlockingClient::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  while (true) {
    int timeout_ms = 1000;
    std::vector<std::shared_ptr<WatchState>> due_streams;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      for (auto& w : removed_) {
        if (w->easy) {
          if (in_flight_.erase(w->easy) && w->on_demand) on_demand_in_flight_--;
          curl_multi_remove_handle(multi, w->easy);
          curl_easy_cleanup(w->easy);
          curl_slist_free_all(w->transfer.headers);
          w->transfer.headers = nullptr;
          w->easy = nullptr;
        }
      }
      removed_.clear();
      const auto now = Clock::now();
      // Blocking watches and urgent on-demand reads first, then the other on-demand reads.
      for (int pass = 0; pass < 2; ++pass) {
        for (auto& [id, w] : watches_) {
          if (w->easy) continue;
          if (w->stream) {
            if (pass == 1) continue;
            if (w->next_start <= now) {
              due_streams.push_back(w);
            } else {
              auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(w->next_start - now).count() + 1;
              timeout_ms = std::min<int>(timeout_ms, static_cast<int>(ms));
            }
            continue;
          }
          if (w->on_demand) {
            if (!w->triggered || w->urgent != (pass == 0)) continue;
            if (on_demand_in_flight_ >= options_.max_on_demand_in_flight) continue;
          } else if (pass == 1) {
            continue;
          }
          if (w->next_start <= now) {
            StartRequest(*w);
          } else {
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(w->next_start - now).count() + 1;
            timeout_ms = std::min<int>(timeout_ms, static_cast<int>(ms));
          }
        }
      }
    }
    if (!due_streams.empty()) StartStreams(due_streams);
    int still_running = 0;
    curl_multi_perform(multi, &still_running);
    std::vector<std::pair<CURL*, CURLcode>> done;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) done.emplace_back(msg->easy_handle, msg->data.result);
    }
    // An answer whose headers came but whose body stopped: a failure now, not after the whole
    // wait. (Checked at least once a second: the poll below never sleeps longer.)
    // A stream has its own deadline, from its start on (no byte at all for stream_idle_timeout).
    {
      const auto now = Clock::now();
      absl::MutexLock lock(&mu_);
      for (auto& [handle, w] : in_flight_) {
        Transfer& t = w->transfer;
        if (t.stalled) continue;
        if (w->stream) {
          if (now - t.last_byte < options_.stream_idle_timeout) continue;
        } else if (options_.body_idle_timeout.count() <= 0 || !t.headers_done ||
                   now - t.last_byte < options_.body_idle_timeout) {
          continue;
        }
        const auto easy = handle;  // clang 14 cannot capture a structured binding in a lambda
        if (std::any_of(done.begin(), done.end(), [&](const auto& d) { return d.first == easy; })) continue;
        t.stalled = true;
        done.emplace_back(static_cast<CURL*>(easy), CURLE_OPERATION_TIMEDOUT);
      }
    }
    for (auto& [easy, code] : done) Finish(easy, code);
    if (!done.empty()) {
      std::function<void()> hook;
      {
        absl::MutexLock lock(&mu_);
        hook = batch_hook_;
      }
      if (hook) hook();
      continue;  // restart finished watches at once
    }
    curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
  }
}

Response BlockingClient::Get(const std::string& path) const {
  GlobalInit();
  CURL* easy = curl_easy_init();
  std::string url = Url(path, 0, /*blocking=*/false);
  Transfer t;
  t.index_header = options_.index_header;
  t.known_leader_header = options_.known_leader_header;
  Configure(easy, url, std::chrono::milliseconds(10000));
  if (!options_.token.empty()) {
    t.headers = curl_slist_append(nullptr, (options_.token_header + ": " + options_.token).c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t.headers);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  total_requests_++;
  CURLcode code = curl_easy_perform(easy);
  Response r = Complete(easy, code, t, url);
  curl_slist_free_all(t.headers);
  curl_easy_cleanup(easy);
  return r;
}

}  // namespace tern::sources::http
