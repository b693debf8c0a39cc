#include "support/raw_xds_client.h"

#include <grpcpp/generic/generic_stub.h>

#include "envoy/config/endpoint/v3/endpoint.pb.h"

namespace tern::testing {

namespace {
// Tags for the completion queue.
enum Tag : intptr_t { kStart = 1, kWrite, kRead, kFinish, kWritesDone };

}  // namespace

// The async generic call is driven from two threads: the reader thread owns Read/Finish and
// completion-queue polling; writers wait for their own completion through a private queue.
RawXdsClient::RawXdsClient(const std::string& target, const std::string& method)
    : RawXdsClient(target, method, grpc::InsecureChannelCredentials(), grpc::ChannelArguments()) {}

RawXdsClient::RawXdsClient(const std::string& target, const std::string& method,
                           const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                           const grpc::ChannelArguments& args) {
  channel_ = grpc::CreateCustomChannel(target, credentials, args);
  stub_ = std::make_unique<grpc::GenericStub>(channel_);
  call_ = stub_->PrepareCall(&ctx_, method, &cq_);
  call_->StartCall(reinterpret_cast<void*>(kStart));
  reader_ = std::thread([this] { ReadLoop(); });
}

RawXdsClient::~RawXdsClient() {
  ctx_.TryCancel();
  if (reader_.joinable()) reader_.join();
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

void RawXdsClient::ReadLoop() {
  // Wait for the call to start, then read until the stream ends, then fetch the status.
  void* tag;
  bool ok;
  bool started = false;
  bool read_pending = false;
  grpc::ByteBuffer buf;
  grpc::Status status;
  bool finish_pending = false;
  while (cq_.Next(&tag, &ok)) {
    auto t = reinterpret_cast<intptr_t>(tag);
    if (t == kStart) {
      started = ok;
      {
        absl::MutexLock l(&mu_);
        started_ = true;
      }
      if (!ok) {
        call_->Finish(&status, reinterpret_cast<void*>(kFinish));
        finish_pending = true;
        continue;
      }
      call_->Read(&buf, reinterpret_cast<void*>(kRead));
      read_pending = true;
    } else if (t == kRead) {
      read_pending = false;
      if (!ok) {
        call_->Finish(&status, reinterpret_cast<void*>(kFinish));
        finish_pending = true;
        continue;
      }
      std::vector<grpc::Slice> slices;
      buf.Dump(&slices);
      std::string bytes;
      for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      {
        absl::MutexLock l(&mu_);
        responses_.push_back(std::move(bytes));
      }
      call_->Read(&buf, reinterpret_cast<void*>(kRead));
      read_pending = true;
    } else if (t == kFinish) {
      absl::MutexLock l(&mu_);
      status_ = status;
      closed_ = true;
      return;
    }
    if (t == kWrite || t == kWritesDone) {
      absl::MutexLock l(&mu_);
      write_pending_ = false;
    }
  }
  (void)started;
  (void)read_pending;
  (void)finish_pending;
}

bool RawXdsClient::SendRaw(const std::string& bytes) {
  absl::MutexLock wl(&write_mu_);  // one writer at a time
  {
    // gRPC allows one outstanding write: wait for the previous one's completion (seen by the
    // reader thread, which polls the queue).
    absl::MutexLock l(&mu_);
    auto can_write = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return (started_ && !write_pending_) || closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&can_write), absl::Seconds(5));
    if (closed_ || write_pending_ || !started_) return false;
    write_pending_ = true;
  }
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buf(&slice, 1);
  call_->Write(buf, reinterpret_cast<void*>(kWrite));
  return true;
}

bool RawXdsClient::Send(const DiscoveryRequest& req) { return SendRaw(req.SerializeAsString()); }

std::optional<std::string> RawXdsClient::NextRaw(std::chrono::milliseconds timeout) {
  absl::MutexLock l(&mu_);
  auto have = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !responses_.empty() || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&have), absl::Milliseconds(timeout.count()));
  if (responses_.empty()) return std::nullopt;
  std::string r = std::move(responses_.front());
  responses_.pop_front();
  return r;
}

std::optional<DiscoveryResponse> RawXdsClient::Next(std::chrono::milliseconds timeout) {
  auto raw = NextRaw(timeout);
  if (!raw) return std::nullopt;
  DiscoveryResponse r;
  if (!r.ParseFromString(*raw)) return std::nullopt;
  return r;
}

std::optional<DeltaDiscoveryResponse> RawXdsClient::NextDelta(std::chrono::milliseconds timeout, size_t* bytes) {
  auto raw = NextRaw(timeout);
  if (!raw) return std::nullopt;
  if (bytes) *bytes = raw->size();
  DeltaDiscoveryResponse r;
  if (!r.ParseFromString(*raw)) return std::nullopt;
  return r;
}

bool RawXdsClient::Quiet(std::chrono::milliseconds wait) {
  absl::MutexLock l(&mu_);
  auto have = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !responses_.empty(); };
  return !mu_.AwaitWithTimeout(absl::Condition(&have), absl::Milliseconds(wait.count()));
}

grpc::Status RawXdsClient::AwaitStatus(std::chrono::milliseconds timeout) {
  absl::MutexLock l(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return status_.has_value(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(timeout.count()))) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "stream did not end");
  }
  return *status_;
}

grpc::Status RawXdsClient::Finish() {
  {
    absl::MutexLock wl(&write_mu_);
    absl::MutexLock l(&mu_);
    auto can_write = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !write_pending_ || closed_; };
    mu_.AwaitWithTimeout(absl::Condition(&can_write), absl::Seconds(5));
    if (!closed_) {
      write_pending_ = true;
      call_->WritesDone(reinterpret_cast<void*>(kWritesDone));
    }
  }
  return AwaitStatus();
}

DiscoveryRequest RawXdsClient::Request(const std::string& type_url, std::vector<std::string> names,
                                       const std::string& version, const std::string& nonce,
                                       const std::string& node_cluster, const std::string& node_id) {
  DiscoveryRequest r;
  r.set_type_url(type_url);
  for (auto& n : names) r.add_resource_names(n);
  r.set_version_info(version);
  r.set_response_nonce(nonce);
  r.mutable_node()->set_id(node_id);
  r.mutable_node()->set_cluster(node_cluster);
  return r;
}

int EndpointCount(const DiscoveryResponse& r) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  if (r.resources_size() != 1 || !r.resources(0).UnpackTo(&cla)) return -1;
  int n = 0;
  for (const auto& l : cla.endpoints()) n += l.lb_endpoints_size();
  return n;
}

}  // namespace tern::testing
