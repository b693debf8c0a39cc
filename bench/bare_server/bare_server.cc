// tern-bare-xds: the baseline. A bare gRPC C++ ADS server (callback API, raw ByteBuffers) that
// replays responses recorded from tern (tern-loadgen --record) byte for byte: no snapshots, no
// state machine, no hashing — only what any server must do to put the same bytes on the same
// streams. tern / bare is then the cost of being a control plane.
//
//   tern-bare-xds --address 127.0.0.1:PORT --recording FILE
//
// A stream's first request for a type gets every phase-0 (initial) response of that type recorded
// for the stream's node.cluster; later requests (ACKs) get nothing. Each SIGUSR1 starts the next
// change k: every stream that asked for a type is sent the responses recorded in phase k + 1 for
// its node cluster. Prints "READY <port>" once serving.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "benchutil/recording.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace tern::bench {
namespace {

constexpr char kDeltaMethod[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
constexpr char kSotwMethod[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

// Recorded responses as ready-to-send ByteBuffers (sending one to N streams shares its slices).
struct Replay {
  // [delta][phase][node_cluster][type_url] → responses in recorded order
  std::map<bool, std::map<uint32_t, std::map<std::string, std::map<std::string, std::vector<grpc::ByteBuffer>>>>> by;
  const std::vector<grpc::ByteBuffer>* Find(bool delta, uint32_t phase, const std::string& nc, const std::string& type) const {
    auto a = by.find(delta);
    if (a == by.end()) return nullptr;
    auto b = a->second.find(phase);
    if (b == a->second.end()) return nullptr;
    auto c = b->second.find(nc);
    if (c == b->second.end()) return nullptr;
    auto d = c->second.find(type);
    return d == c->second.end() ? nullptr : &d->second;
  }
};

class Server;

class Reactor : public grpc::ServerGenericBidiReactor {
 public:
  Reactor(Server* server, bool delta, bool known);
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void OnCancel() override {}

  // Queues responses; one write in flight.
  void Send(const std::vector<grpc::ByteBuffer>& bufs);
  const std::string& node_cluster() const { return node_cluster_; }
  bool Subscribed(const std::string& type) {
    absl::MutexLock lock(&mu_);
    return types_.count(type) > 0;
  }

 private:
  Server* server_;
  bool delta_;
  grpc::ByteBuffer req_;
  std::string node_cluster_;  // set by the first request, before the stream is registered
  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> types_ ABSL_GUARDED_BY(mu_);
};

class Server : public grpc::CallbackGenericService {
 public:
  explicit Server(Replay replay) : replay_(std::move(replay)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    bool delta = ctx->method() == kDeltaMethod;
    bool known = delta || ctx->method() == kSotwMethod;
    return new Reactor(this, delta, known);
  }

  const Replay& replay() const { return replay_; }
  void Register(Reactor* r) {
    absl::MutexLock lock(&mu_);
    streams_.insert(r);
  }
  void Unregister(Reactor* r) {
    absl::MutexLock lock(&mu_);
    streams_.erase(r);
  }
  // Sends change k's responses to every stream.
  void Change(uint32_t k, bool delta_any) {
    absl::MutexLock lock(&mu_);
    for (Reactor* r : streams_) {
      for (bool delta : {false, true}) {
        auto a = replay_.by.find(delta);
        if (a == replay_.by.end()) continue;
        auto b = a->second.find(k + 1);
        if (b == a->second.end()) continue;
        auto c = b->second.find(r->node_cluster());
        if (c == b->second.end()) continue;
        for (const auto& [type, bufs] : c->second) {
          if (r->Subscribed(type)) r->Send(bufs);
        }
      }
    }
  }

 private:
  Replay replay_;
  absl::Mutex mu_;
  std::set<Reactor*> streams_ ABSL_GUARDED_BY(mu_);
};

Reactor::Reactor(Server* server, bool delta, bool known) : server_(server), delta_(delta) {
  if (!known) {
    absl::MutexLock lock(&mu_);
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "tern-bare-xds serves ADS only"));
    return;
  }
  StartRead(&req_);
}

void Reactor::OnReadDone(bool ok) {
  if (!ok) {
    absl::MutexLock lock(&mu_);
    if (writing_) {
      finishing_ = true;
    } else if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
    return;
  }
  grpc::Slice slice;
  std::string bytes;
  if (req_.DumpToSingleSlice(&slice).ok()) bytes.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
  std::string type;
  bool first_message = node_cluster_.empty();
  if (delta_) {
    envoy::service::discovery::v3::DeltaDiscoveryRequest req;
    req.ParseFromString(bytes);
    type = req.type_url();
    if (first_message) node_cluster_ = req.node().cluster();
  } else {
    envoy::service::discovery::v3::DiscoveryRequest req;
    req.ParseFromString(bytes);
    type = req.type_url();
    if (first_message) node_cluster_ = req.node().cluster();
  }
  if (first_message) server_->Register(this);
  bool new_type;
  {
    absl::MutexLock lock(&mu_);
    new_type = types_.insert(type).second;
  }
  if (new_type) {
    if (const auto* bufs = server_->replay().Find(delta_, 0, node_cluster_, type)) Send(*bufs);
  }
  StartRead(&req_);
}

void Reactor::Send(const std::vector<grpc::ByteBuffer>& bufs) {
  absl::MutexLock lock(&mu_);
  if (finished_ || finishing_) return;
  for (const auto& b : bufs) queue_.push_back(b);
  if (!writing_ && !queue_.empty()) {
    writing_ = true;
    StartWrite(&queue_.front());
  }
}

void Reactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  queue_.pop_front();
  if (ok && !finishing_ && !queue_.empty()) {
    StartWrite(&queue_.front());
    return;
  }
  writing_ = false;
  if ((finishing_ || !ok) && !finished_) {
    finished_ = true;
    Finish(grpc::Status::OK);
  }
}

void Reactor::OnDone() {
  if (!node_cluster_.empty()) server_->Unregister(this);
  delete this;
}

}  // namespace
}  // namespace tern::bench

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:0", recording;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--address") address = argv[i + 1];
    else if (k == "--recording") recording = argv[i + 1];
    else {
      std::fprintf(stderr, "tern-bare-xds: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<tern::bench::Recorded> records;
  if (recording.empty() || !tern::bench::ReadRecording(recording, &records)) {
    std::fprintf(stderr, "tern-bare-xds: cannot read recording '%s'\n", recording.c_str());
    return 2;
  }
  tern::bench::Replay replay;
  uint32_t max_phase = 0;
  for (auto& r : records) {
    grpc::Slice slice(r.bytes);
    replay.by[r.delta][r.phase][r.node_cluster][r.type_url].emplace_back(&slice, 1);
    max_phase = std::max(max_phase, r.phase);
  }
  // SIGUSR1 is taken synchronously by a thread of its own (blocked in every other thread).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  tern::bench::Server service(std::move(replay));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&service);
  builder.SetMaxReceiveMessageSize(-1);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "tern-bare-xds: cannot listen on %s\n", address.c_str());
    return 1;
  }
  std::printf("READY %d (%zu recorded responses, %u change phases)\n", port, records.size(), max_phase);
  std::fflush(stdout);
  std::thread signals([&] {
    uint32_t k = 0;
    for (;;) {
      int sig;
      if (sigwait(&set, &sig) != 0) continue;
      service.Change(k++, false);
    }
  });
  signals.detach();
  server->Wait();
  return 0;
}
