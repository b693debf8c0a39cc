// tern-loadgen: N xDS ADS streams as N distinct proxies, subscribing the way Envoy does, with
// timings for initial sync and for every injected change (docs/performance.md).
//
//   tern-loadgen --target HOST:PORT --streams N --gateways G [--delta] [--channels C]
//                [--server-pid PID] [--changes K]
//                [--inject-target FILE --inject-files A,B,...]   (rename(2) A, B, ... over FILE)
//                [--inject-signal PID]                           (SIGUSR1 per change: the bare server)
//                [--inject-http HOST:PORT/PATH --inject-files A,B,...]
//                                               (HTTP PUT of A, B, ... to PATH: a Consul write)
//                [--record FILE] [--json FILE] [--quiet-ms M] [--idle-ms M]
//                [--restart-cmd CMD]   (after the sync and the changes: the restart storm, below)
//
// Each stream is one proxy: node.id "loadgen-<i>", node.cluster GatewayName(i % G). It opens
// wildcard CDS and LDS, then subscribes EDS to every cluster it was given and RDS to every
// route configuration its listeners' HttpConnectionManagers name, and ACKs every response.
//
// --restart-cmd CMD: once every stream is in sync (and after the changes, if any), runs CMD with
// /bin/sh, which is to kill the server and start it again on the same address, and print the new
// server's PID as its last line once it is ready. Every stream whose call ends from then on is
// re-opened (as a proxy does, waiting for the channel to be ready: gRPC's reconnect backoff, here
// 500 ms to 5 s) as a fresh stream that holds no version (the worst case: everything is sent again), and
// the report gets "restart": time from the kill to the new server's readiness and to every stream
// in sync again, and the peak RSS (VmHWM) of the new server next to the old one's.
//
// Threads: one gRPC completion queue drained by one thread owns every stream's state (under
// `mu`, which the main thread takes only to read results); the main thread drives the phases.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "benchutil/recording.h"
#include "benchutil/wire.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "worldgen/worldgen.h"

namespace tern::bench {
namespace {

using Clock = std::chrono::steady_clock;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryRequest;

constexpr char kCds[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kEds[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr char kLds[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kRds[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
constexpr char kSotwMethod[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
constexpr char kDeltaMethod[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

struct Options {
  std::string target = "127.0.0.1:18000";
  int streams = 100;
  int gateways = 1;
  int channels = 32;
  bool delta = false;
  int server_pid = 0;
  int changes = 0;
  std::string inject_target;
  std::vector<std::string> inject_files;
  int inject_signal = 0;
  std::string inject_http;  // HOST:PORT/PATH
  std::string record;
  std::string json;
  int quiet_ms = 500;
  int idle_ms = 1000;
  int sync_timeout_s = 120;
  int change_timeout_s = 20;
  std::string restart_cmd;
};

// Per-type protocol state of one stream.
struct TypeState {
  std::string version, nonce;
  bool received = false;
  std::set<std::string> subscribed;  // EDS/RDS names asked for
  std::set<std::string> have;        // names received at least once
};

struct Event {
  int64_t recv_ns;
  int64_t ack_ns;
  size_t bytes;
};

enum Op : uintptr_t { kStart = 0, kRead = 1, kWrite = 2, kFinish = 3 };

struct Stream {
  int index = 0;
  std::string node_id, node_cluster;
  std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>();
  bool reopened = false;  // opened again after the server's restart
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  grpc::ByteBuffer read_buf;
  grpc::ByteBuffer write_buf;
  std::vector<std::string> outq;
  bool writing = false;
  bool node_sent = false;
  bool done = false;
  bool recorder = false;  // first stream of its node cluster: records responses
  grpc::Status status;
  std::map<std::string, TypeState> types;
  std::map<std::string, std::set<std::string>> listener_routes;  // delta: listener → its RDS names
  bool synced = false;
  int64_t sync_ns = 0;
  uint64_t bytes = 0;
  uint64_t responses = 0;
  std::vector<Event> events;  // since the last Take
};

void* Tag(Stream* s, Op op) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) | op); }

class LoadGen {
 public:
  explicit LoadGen(Options o) : o_(std::move(o)) {}

  int Run();

 private:
  void Loop();
  void HandleEvent(Stream* s, Op op, bool ok) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(Stream* s, std::string bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnResponse(Stream* s, const std::string& msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnSotw(Stream* s, const std::string& msg, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnDelta(Stream* s, const std::string& msg, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendSotw(Stream* s, const std::string& type, const TypeState& st, bool names, const std::string& error = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendDelta(Stream* s, const std::string& type, const std::vector<std::string>& sub,
                 const std::vector<std::string>& unsub, const std::string& nonce) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CheckSynced(Stream* s, int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::set<std::string> RouteNames(const std::vector<std::string_view>& listeners);
  bool Inject(int k, int64_t* t0);
  void Reopen(Stream* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options o_;
  grpc::CompletionQueue cq_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  std::vector<std::unique_ptr<Stream>> streams_;
  absl::Mutex mu_;
  int synced_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_ ABSL_GUARDED_BY(mu_) = 0;
  int unimplemented_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  int64_t last_response_ns_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_responses_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t phase_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Recorded> records_ ABSL_GUARDED_BY(mu_);
  bool reopen_ ABSL_GUARDED_BY(mu_) = false;   // streams that end are opened again (restart storm)
  std::vector<std::unique_ptr<Stream>> retired_ ABSL_GUARDED_BY(mu_);  // ended; late tags may still name them
  int nch_ = 1;
};

struct ProcStat {
  double cpu_s = -1;
  long rss_kib = -1;
  long hwm_kib = -1;  // peak RSS
};

ProcStat ReadProc(int pid) {
  ProcStat out;
  if (pid <= 0) return out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    auto rp = line.rfind(')');
    if (rp != std::string::npos) {
      std::istringstream in(line.substr(rp + 2));
      std::vector<std::string> f;
      std::string x;
      while (in >> x) f.push_back(x);
      // After "pid (comm) ": state is field 3, so utime (14) and stime (15) are f[11], f[12].
      if (f.size() > 12) out.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / sysconf(_SC_CLK_TCK);
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) out.rss_kib = std::atol(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) out.hwm_kib = std::atol(line.c_str() + 6);
  }
  return out;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))]; };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

nlohmann::json ToJson(const Percentiles& p) {
  return {{"p50_ms", p.p50}, {"p99_ms", p.p99}, {"max_ms", p.max}, {"n", p.n}};
}

void LoadGen::Send(Stream* s, std::string bytes) {
  if (s->done) return;
  if (s->writing) {
    s->outq.push_back(std::move(bytes));
    return;
  }
  s->writing = true;
  grpc::Slice slice(bytes);
  s->write_buf = grpc::ByteBuffer(&slice, 1);
  s->call->Write(s->write_buf, Tag(s, kWrite));
}

void LoadGen::SendSotw(Stream* s, const std::string& type, const TypeState& st, bool names, const std::string& error) {
  DiscoveryRequest req;
  if (!s->node_sent) {
    req.mutable_node()->set_id(s->node_id);
    req.mutable_node()->set_cluster(s->node_cluster);
    s->node_sent = true;
  }
  req.set_type_url(type);
  req.set_version_info(st.version);
  req.set_response_nonce(st.nonce);
  if (names) {
    for (const auto& n : st.subscribed) req.add_resource_names(n);
  }
  if (!error.empty()) req.mutable_error_detail()->set_message(error);
  Send(s, req.SerializeAsString());
}

void LoadGen::SendDelta(Stream* s, const std::string& type, const std::vector<std::string>& sub,
                        const std::vector<std::string>& unsub, const std::string& nonce) {
  DeltaDiscoveryRequest req;
  if (!s->node_sent) {
    req.mutable_node()->set_id(s->node_id);
    req.mutable_node()->set_cluster(s->node_cluster);
    s->node_sent = true;
  }
  req.set_type_url(type);
  for (const auto& n : sub) req.add_resource_names_subscribe(n);
  for (const auto& n : unsub) req.add_resource_names_unsubscribe(n);
  req.set_response_nonce(nonce);
  Send(s, req.SerializeAsString());
}

std::set<std::string> LoadGen::RouteNames(const std::vector<std::string_view>& listeners) {
  namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
  std::set<std::string> out;
  for (auto bytes : listeners) {
    envoy::config::listener::v3::Listener l;
    if (!l.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) continue;
    auto take = [&](const google::protobuf::Any& any) {
      hcm::HttpConnectionManager m;
      if (any.UnpackTo(&m) && m.has_rds()) out.insert(m.rds().route_config_name());
    };
    for (const auto& fc : l.filter_chains()) {
      for (const auto& f : fc.filters()) {
        if (f.has_typed_config()) take(f.typed_config());
      }
    }
    if (l.has_api_listener()) take(l.api_listener().api_listener());
  }
  return out;
}

void LoadGen::CheckSynced(Stream* s, int64_t now) {
  if (s->synced) return;
  for (const char* t : {kCds, kLds}) {
    if (!s->types[t].received) return;
  }
  for (const char* t : {kEds, kRds}) {
    const auto& st = s->types[t];
    for (const auto& n : st.subscribed) {
      if (!st.have.count(n)) return;
    }
  }
  s->synced = true;
  s->sync_ns = now;
  ++synced_;
}

void LoadGen::OnSotw(Stream* s, const std::string& msg, int64_t now) {
  std::string version, nonce, type;
  std::vector<std::string_view> bodies;
  WireReader r(msg);
  uint32_t f, wt;
  std::string_view b;
  uint64_t v;
  while (r.Next(&f, &wt, &b, &v)) {
    if (wt != 2) continue;
    if (f == 1) version = b;
    else if (f == 4) type = b;
    else if (f == 5) nonce = b;
    else if (f == 2) bodies.push_back(StringField(b, 2));  // Any.value
  }
  TypeState& st = s->types[type];
  st.received = true;
  st.version = version;
  st.nonce = nonce;
  for (auto body : bodies) st.have.insert(std::string(StringField(body, 1)));
  if (type == kCds || type == kLds) {
    // Full state: the names in this response are everything there is.
    std::set<std::string> names;
    if (type == kCds) {
      for (auto body : bodies) names.insert(std::string(StringField(body, 1)));
    } else {
      names = RouteNames(bodies);
    }
    const char* child = type == kCds ? kEds : kRds;
    TypeState& cst = s->types[child];
    bool changed = names != cst.subscribed;
    if (changed) cst.subscribed = std::move(names);
    SendSotw(s, type, st, false);
    if (changed) SendSotw(s, child, cst, true);
  } else {
    SendSotw(s, type, st, true);
  }
  CheckSynced(s, now);
}

void LoadGen::OnDelta(Stream* s, const std::string& msg, int64_t now) {
  std::string nonce, type;
  std::vector<std::pair<std::string, std::string_view>> added;  // name, resource body
  std::vector<std::string> removed;
  WireReader r(msg);
  uint32_t f, wt;
  std::string_view b;
  uint64_t v;
  while (r.Next(&f, &wt, &b, &v)) {
    if (wt != 2) continue;
    if (f == 4) type = b;
    else if (f == 5) nonce = b;
    else if (f == 6) removed.emplace_back(b);
    else if (f == 2) {
      // Resource { version = 1; resource (Any) = 2; name = 3 }
      std::string_view any = StringField(b, 2);
      added.emplace_back(std::string(StringField(b, 3)), StringField(any, 2));
    }
  }
  TypeState& st = s->types[type];
  st.received = true;
  st.nonce = nonce;
  for (const auto& [name, body] : added) st.have.insert(name);
  for (const auto& name : removed) st.have.erase(name);
  SendDelta(s, type, {}, {}, nonce);  // ACK
  if (type == kCds || type == kLds) {
    std::set<std::string> names;
    if (type == kCds) {
      names = st.have;
    } else {
      // Listeners not in this response are unchanged: keep the route names they named.
      for (const auto& [name, body] : added) s->listener_routes[name] = RouteNames({body});
      for (const auto& name : removed) s->listener_routes.erase(name);
      for (const auto& [name, routes] : s->listener_routes) names.insert(routes.begin(), routes.end());
    }
    const char* child = type == kCds ? kEds : kRds;
    TypeState& cst = s->types[child];
    std::vector<std::string> sub, unsub;
    for (const auto& n : names) {
      if (!cst.subscribed.count(n)) sub.push_back(n);
    }
    for (const auto& n : cst.subscribed) {
      if (!names.count(n)) unsub.push_back(n);
    }
    if (!sub.empty() || !unsub.empty()) {
      cst.subscribed = std::move(names);
      SendDelta(s, child, sub, unsub, "");
    }
  }
  CheckSynced(s, now);
}

void LoadGen::OnResponse(Stream* s, const std::string& msg) {
  int64_t now = NowNs();
  s->bytes += msg.size();
  ++s->responses;
  ++total_responses_;
  last_response_ns_ = now;
  if (s->recorder && !o_.record.empty()) {
    Recorded rec;
    rec.phase = phase_;
    rec.delta = o_.delta;
    rec.node_cluster = s->node_cluster;
    rec.type_url = std::string(StringField(msg, 4));
    rec.bytes = msg;
    records_.push_back(std::move(rec));
  }
  if (o_.delta) OnDelta(s, msg, now);
  else OnSotw(s, msg, now);
  s->events.push_back({now, NowNs(), msg.size()});
}

void LoadGen::HandleEvent(Stream* s, Op op, bool ok) {
  switch (op) {
    case kStart:
      if (!ok) {
        s->call->Finish(&s->status, Tag(s, kFinish));
        return;
      }
      if (o_.delta) {
        SendDelta(s, kCds, {}, {}, "");
        SendDelta(s, kLds, {}, {}, "");
      } else {
        SendSotw(s, kCds, s->types[kCds], false);
        SendSotw(s, kLds, s->types[kLds], false);
      }
      s->call->Read(&s->read_buf, Tag(s, kRead));
      return;
    case kRead: {
      if (!ok) {
        s->call->Finish(&s->status, Tag(s, kFinish));
        return;
      }
      grpc::Slice slice;
      std::string msg;
      if (s->read_buf.DumpToSingleSlice(&slice).ok()) {
        msg.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
      OnResponse(s, msg);
      s->call->Read(&s->read_buf, Tag(s, kRead));
      return;
    }
    case kWrite:
      s->writing = false;
      if (!ok) return;
      if (!s->outq.empty()) {
        std::string next = std::move(s->outq.front());
        s->outq.erase(s->outq.begin());
        Send(s, std::move(next));
      }
      return;
    case kFinish:
      if (reopen_) {
        Reopen(s);
        return;
      }
      s->done = true;
      ++finished_;
      if (s->status.error_code() == grpc::StatusCode::UNIMPLEMENTED) ++unimplemented_;
      if (first_error_.empty()) {
        first_error_ = std::to_string(s->status.error_code()) + ": " + s->status.error_message();
      }
      return;
  }
}

void LoadGen::Reopen(Stream* old) {
  auto s = std::make_unique<Stream>();
  s->index = old->index;
  s->node_id = old->node_id;
  s->node_cluster = old->node_cluster;
  s->reopened = true;
  s->ctx->set_wait_for_ready(true);
  if (old->synced) --synced_;
  Stream* raw = s.get();
  retired_.push_back(std::move(streams_[old->index]));
  streams_[old->index] = std::move(s);
  raw->call = stubs_[raw->index % nch_]->PrepareCall(raw->ctx.get(), o_.delta ? kDeltaMethod : kSotwMethod, &cq_);
  raw->call->StartCall(Tag(raw, kStart));
}

void LoadGen::Loop() {
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
    auto bits = reinterpret_cast<uintptr_t>(tag);
    auto* s = reinterpret_cast<Stream*>(bits & ~uintptr_t{3});
    absl::MutexLock lock(&mu_);
    HandleEvent(s, static_cast<Op>(bits & 3), ok);
  }
}

namespace {
// One HTTP/1.1 PUT of `body` to "HOST:PORT/PATH" (numeric IPv4 host), waiting for a 200. The
// change's clock starts before the connection is opened.
bool HttpPut(const std::string& target, const std::string& body, int64_t* t0) {
  const size_t colon = target.find(':');
  const size_t slash = target.find('/', colon == std::string::npos ? 0 : colon);
  if (colon == std::string::npos || slash == std::string::npos) {
    std::fprintf(stderr, "tern-loadgen: --inject-http wants HOST:PORT/PATH, got %s\n", target.c_str());
    return false;
  }
  const std::string host = target.substr(0, colon);
  const int port = std::stoi(target.substr(colon + 1, slash - colon - 1));
  const std::string path = target.substr(slash);
  std::string req = "PUT " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" +
                    "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "tern-loadgen: --inject-http host must be an IPv4 address: %s\n", host.c_str());
    return false;
  }
  *t0 = NowNs();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("tern-loadgen: connect");
    if (fd >= 0) ::close(fd);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::write(fd, req.data() + off, req.size() - off);
    if (n <= 0) {
      std::perror("tern-loadgen: write");
      ::close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "tern-loadgen: PUT %s answered: %s\n", target.c_str(), resp.substr(0, 200).c_str());
    return false;
  }
  return true;
}
}  // namespace

bool LoadGen::Inject(int k, int64_t* t0) {
  if (!o_.inject_http.empty()) {
    const std::string& src = o_.inject_files[k % o_.inject_files.size()];
    std::ifstream in(src, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "tern-loadgen: cannot read %s\n", src.c_str());
      return false;
    }
    return HttpPut(o_.inject_http, body.str(), t0);
  }
  if (!o_.inject_target.empty()) {
    const std::string& src = o_.inject_files[k % o_.inject_files.size()];
    std::string tmp = o_.inject_target + ".loadgen-tmp";
    std::ifstream in(src, std::ios::binary);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
    out.close();
    if (!in || !out) {
      std::fprintf(stderr, "tern-loadgen: cannot copy %s to %s\n", src.c_str(), tmp.c_str());
      return false;
    }
    *t0 = NowNs();
    if (std::rename(tmp.c_str(), o_.inject_target.c_str()) != 0) {
      std::perror("tern-loadgen: rename");
      return false;
    }
    return true;
  }
  if (o_.inject_signal > 0) {
    *t0 = NowNs();
    return kill(o_.inject_signal, SIGUSR1) == 0;
  }
  return false;
}

int LoadGen::Run() {
  nlohmann::json report;
  report["mode"] = o_.delta ? "delta" : "sotw";
  report["target"] = o_.target;
  report["streams"] = o_.streams;
  report["gateways"] = o_.gateways;
  report["channels"] = o_.channels;

  ProcStat before = ReadProc(o_.server_pid);
  std::thread loop([this] { Loop(); });

  int nch = std::max(1, std::min(o_.channels, o_.streams));
  nch_ = nch;
  for (int c = 0; c < nch; ++c) {
    grpc::ChannelArguments args;
    if (!o_.restart_cmd.empty()) {
      // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also the connect timeout (20 s by default);
      // at 500 ms most of 32 channels connecting at once under load failed their first attempt.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
    }
    args.SetInt("tern.loadgen.channel", c);  // distinct args: one TCP connection per channel
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    channels_.push_back(grpc::CreateCustomChannel(o_.target, grpc::InsecureChannelCredentials(), args));
    stubs_.push_back(std::make_unique<grpc::GenericStub>(channels_.back()));
  }
  int64_t start_ns = NowNs();
  {
    std::vector<bool> seen(o_.gateways, false);
    for (int i = 0; i < o_.streams; ++i) {
      auto s = std::make_unique<Stream>();
      s->index = i;
      s->node_id = "loadgen-" + std::to_string(i);
      s->node_cluster = GatewayName(i % o_.gateways);
      s->recorder = !seen[i % o_.gateways];
      seen[i % o_.gateways] = true;
      streams_.push_back(std::move(s));
    }
    absl::MutexLock lock(&mu_);
    for (auto& s : streams_) {
      s->call = stubs_[s->index % nch]->PrepareCall(s->ctx.get(), o_.delta ? kDeltaMethod : kSotwMethod, &cq_);
      s->call->StartCall(Tag(s.get(), kStart));
    }
  }

  // Phase 1: initial sync of every stream.
  bool all_synced = false;
  bool unsupported = false;
  std::string error;
  auto deadline = Clock::now() + std::chrono::seconds(o_.sync_timeout_s);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    absl::MutexLock lock(&mu_);
    if (synced_ == o_.streams) {
      all_synced = true;
      break;
    }
    if (unimplemented_ > 0) {
      unsupported = true;
      error = first_error_;
      break;
    }
    if (finished_ == o_.streams) {
      error = first_error_;
      break;
    }
  }
  int64_t sync_end = 0;
  uint64_t sync_bytes = 0;
  std::vector<double> sync_ms;
  {
    absl::MutexLock lock(&mu_);
    for (auto& s : streams_) {
      sync_bytes += s->bytes;
      if (s->synced) {
        sync_end = std::max(sync_end, s->sync_ns);
        sync_ms.push_back((s->sync_ns - start_ns) / 1e6);
      }
      s->events.clear();
    }
    size_t clusters = streams_.empty() ? 0 : streams_[0]->types[kCds].have.size();
    report["clusters_per_stream"] = clusters;
    report["initial_sync"] = {{"all_synced", all_synced},
                              {"synced", synced_},
                              {"seconds", all_synced ? (sync_end - start_ns) / 1e9 : -1.0},
                              {"bytes", sync_bytes},
                              {"per_stream", ToJson(Summarize(sync_ms))}};
  }
  report["unsupported"] = unsupported;
  if (!error.empty()) report["error"] = error;
  if (unsupported) {
    std::fprintf(stderr, "tern-loadgen: %s mode unsupported by the server (UNIMPLEMENTED: %s)\n",
                 o_.delta ? "delta" : "sotw", error.c_str());
  }
  ProcStat at_sync = ReadProc(o_.server_pid);
  int64_t idle_start = NowNs();
  if (all_synced) std::this_thread::sleep_for(std::chrono::milliseconds(o_.idle_ms));
  ProcStat after_sync = ReadProc(o_.server_pid);
  // The server's CPU while nothing changes (e.g. the file source polling), per second.
  double idle_cpu_per_s = (after_sync.cpu_s - at_sync.cpu_s) / ((NowNs() - idle_start) / 1e9);
  int64_t changes_start = NowNs();

  // Phase 2: injected changes, one at a time; each waits until the streams are quiet.
  std::vector<double> all_conv, all_fan;
  nlohmann::json changes = nlohmann::json::array();
  uint64_t change_bytes = 0;
  int done_changes = 0;
  for (int k = 0; all_synced && k < o_.changes; ++k) {
    {
      absl::MutexLock lock(&mu_);
      phase_ = k + 1;
    }
    int64_t t0;
    if (!Inject(k, &t0)) break;
    auto cdl = Clock::now() + std::chrono::seconds(o_.change_timeout_s);
    uint64_t responses0;
    {
      absl::MutexLock lock(&mu_);
      responses0 = total_responses_;
    }
    while (Clock::now() < cdl) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      absl::MutexLock lock(&mu_);
      if (total_responses_ > responses0 && NowNs() - last_response_ns_ > int64_t{o_.quiet_ms} * 1000000) break;
    }
    std::vector<double> conv, fan;
    uint64_t bytes = 0;
    int64_t first_recv = INT64_MAX;
    std::vector<int64_t> last_ack;
    {
      absl::MutexLock lock(&mu_);
      for (auto& s : streams_) {
        if (s->events.empty()) continue;
        int64_t ack = 0;
        for (const auto& e : s->events) {
          bytes += e.bytes;
          first_recv = std::min(first_recv, e.recv_ns);
          ack = std::max(ack, e.ack_ns);
        }
        last_ack.push_back(ack);
        s->events.clear();
      }
    }
    for (int64_t a : last_ack) {
      conv.push_back((a - t0) / 1e6);
      fan.push_back((a - first_recv) / 1e6);
    }
    auto pc = Summarize(conv), pf = Summarize(fan);
    changes.push_back({{"index", k},
                       {"affected_streams", last_ack.size()},
                       {"bytes", bytes},
                       {"convergence", ToJson(pc)},
                       {"fanout", ToJson(pf)},
                       {"first_response_ms", last_ack.empty() ? -1.0 : (first_recv - t0) / 1e6}});
    std::fprintf(stderr, "change %d: %zu streams, %llu bytes, convergence p50 %.1f p99 %.1f max %.1f ms (fan-out max %.1f ms)\n",
                 k, last_ack.size(), static_cast<unsigned long long>(bytes), pc.p50, pc.p99, pc.max, pf.max);
    all_conv.insert(all_conv.end(), conv.begin(), conv.end());
    all_fan.insert(all_fan.end(), fan.begin(), fan.end());
    change_bytes += bytes;
    ++done_changes;
  }
  ProcStat after_changes = ReadProc(o_.server_pid);

  // Phase 3: the restart storm.
  if (all_synced && !o_.restart_cmd.empty()) {
    const ProcStat old_server = ReadProc(o_.server_pid);
    {
      absl::MutexLock lock(&mu_);
      reopen_ = true;
    }
    const int64_t t_kill = NowNs();
    std::string out;
    if (FILE* p = popen(o_.restart_cmd.c_str(), "r")) {
      char buf[256];
      while (fgets(buf, sizeof buf, p)) out = buf;  // the last line
      pclose(p);
    }
    const int64_t t_ready = NowNs();
    const int new_pid = std::atoi(out.c_str());
    bool back = false;
    int64_t t_back = 0;
    std::vector<double> per_stream;
    auto rdl = Clock::now() + std::chrono::seconds(o_.sync_timeout_s);
    while (new_pid > 0 && Clock::now() < rdl) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      absl::MutexLock lock(&mu_);
      int n = 0;
      for (auto& s : streams_) n += s->reopened && s->synced ? 1 : 0;
      if (n == o_.streams) {
        back = true;
        for (auto& s : streams_) {
          t_back = std::max(t_back, s->sync_ns);
          per_stream.push_back((s->sync_ns - t_ready) / 1e6);
        }
        break;
      }
    }
    const ProcStat new_server = ReadProc(new_pid);
    int reopened = 0;
    {
      absl::MutexLock lock(&mu_);
      reopen_ = false;
      for (auto& s : streams_) reopened += s->reopened ? 1 : 0;
    }
    report["restart"] = {{"all_synced", back},
                         {"streams_reopened", reopened},
                         {"new_server_pid", new_pid},
                         {"kill_to_ready_s", (t_ready - t_kill) / 1e9},
                         {"ready_to_all_synced_s", back ? (t_back - t_ready) / 1e9 : -1.0},
                         {"kill_to_all_synced_s", back ? (t_back - t_kill) / 1e9 : -1.0},
                         {"per_stream_after_ready", ToJson(Summarize(per_stream))},
                         {"old_server_peak_rss_kib", old_server.hwm_kib},
                         {"new_server_peak_rss_kib", new_server.hwm_kib},
                         {"new_server_rss_kib", new_server.rss_kib},
                         {"new_server_cpu_s", new_server.cpu_s}};
    std::fprintf(stderr,
                 "restart: %d streams back in sync %s: %.3f s after the kill (new server ready after %.3f s); "
                 "peak RSS %ld KiB (before the restart: %ld KiB)\n",
                 o_.streams, back ? "" : "INCOMPLETE", back ? (t_back - t_kill) / 1e9 : -1.0, (t_ready - t_kill) / 1e9,
                 new_server.hwm_kib, old_server.hwm_kib);
    if (!back) all_synced = false;
  }
  report["changes"] = changes;
  report["convergence"] = ToJson(Summarize(all_conv));
  report["fanout"] = ToJson(Summarize(all_fan));
  report["bytes_per_change"] = done_changes ? static_cast<double>(change_bytes) / done_changes : 0.0;
  nlohmann::json server = {{"pid", o_.server_pid},
                           {"cpu_s_before", before.cpu_s},
                           {"cpu_s_after_sync", after_sync.cpu_s},
                           {"cpu_s_after_changes", after_changes.cpu_s},
                           {"rss_kib_before", before.rss_kib},
                           {"rss_kib_after_sync", after_sync.rss_kib},
                           {"rss_kib_after_changes", after_changes.rss_kib}};
  if (o_.server_pid > 0) {
    server["cpu_s_initial_sync"] = after_sync.cpu_s - before.cpu_s;
    server["rss_kib_per_stream"] = static_cast<double>(after_sync.rss_kib - before.rss_kib) / o_.streams;
    server["idle_cpu_ms_per_s"] = idle_cpu_per_s * 1000;
    if (done_changes) {
      double total_ms = (after_changes.cpu_s - after_sync.cpu_s) * 1000;
      double idle_ms = idle_cpu_per_s * (NowNs() - changes_start) / 1e6;
      server["cpu_ms_per_change"] = total_ms / done_changes;
      server["cpu_ms_per_change_net_of_idle"] = std::max(0.0, total_ms - idle_ms) / done_changes;
    }
  }
  server["peak_rss_kib_after_sync"] = after_sync.hwm_kib;
  report["server"] = server;
  ProcStat self = ReadProc(getpid());
  report["loadgen"] = {{"cpu_s", self.cpu_s}, {"rss_kib", self.rss_kib}};

  if (!o_.record.empty()) {
    absl::MutexLock lock(&mu_);
    if (!WriteRecording(o_.record, records_)) std::fprintf(stderr, "tern-loadgen: cannot write %s\n", o_.record.c_str());
  }

  for (auto& s : streams_) s->ctx->TryCancel();
  // Wait for every stream to finish, then drain the queue.
  for (int i = 0; i < 500; ++i) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ == o_.streams) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  cq_.Shutdown();
  loop.join();

  std::string text = report.dump(2);
  if (!o_.json.empty()) {
    std::ofstream(o_.json) << text << "\n";
  }
  std::printf("%s\n", text.c_str());
  std::fprintf(stderr, "%s: %d streams, initial sync %s in %.3f s (%.1f MB); server CPU %.2f s, RSS %ld -> %ld KiB\n",
               o_.delta ? "delta" : "sotw", o_.streams, all_synced ? "complete" : "INCOMPLETE",
               all_synced ? (sync_end - start_ns) / 1e9 : -1.0, sync_bytes / 1e6,
               after_sync.cpu_s - before.cpu_s, before.rss_kib, after_sync.rss_kib);
  if (unsupported) return 3;
  return all_synced ? 0 : 1;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string x;
  while (std::getline(in, x, ',')) {
    if (!x.empty()) out.push_back(x);
  }
  return out;
}

}  // namespace
}  // namespace tern::bench

int main(int argc, char** argv) {
  tern::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tern-loadgen: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--delta") o.delta = true;
    else if (k == "--target") o.target = val();
    else if (k == "--streams") o.streams = std::stoi(val());
    else if (k == "--gateways") o.gateways = std::stoi(val());
    else if (k == "--channels") o.channels = std::stoi(val());
    else if (k == "--server-pid") o.server_pid = std::stoi(val());
    else if (k == "--changes") o.changes = std::stoi(val());
    else if (k == "--inject-target") o.inject_target = val();
    else if (k == "--inject-files") o.inject_files = tern::bench::Split(val());
    else if (k == "--inject-signal") o.inject_signal = std::stoi(val());
    else if (k == "--inject-http") o.inject_http = val();
    else if (k == "--record") o.record = val();
    else if (k == "--json") o.json = val();
    else if (k == "--quiet-ms") o.quiet_ms = std::stoi(val());
    else if (k == "--idle-ms") o.idle_ms = std::stoi(val());
    else if (k == "--sync-timeout-s") o.sync_timeout_s = std::stoi(val());
    else if (k == "--change-timeout-s") o.change_timeout_s = std::stoi(val());
    else if (k == "--restart-cmd") o.restart_cmd = val();
    else {
      std::fprintf(stderr, "tern-loadgen: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (o.streams <= 0 || o.gateways <= 0) {
    std::fprintf(stderr, "tern-loadgen: --streams and --gateways must be > 0\n");
    return 2;
  }
  if ((!o.inject_target.empty() || !o.inject_http.empty()) && o.inject_files.empty()) {
    std::fprintf(stderr, "tern-loadgen: --inject-target and --inject-http need --inject-files\n");
    return 2;
  }
  return tern::bench::LoadGen(std::move(o)).Run();
}
