#include "xds/stream_reactor.h"

#include <spdlog/spdlog.h>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "common/utf8.h"
#include "xds/xds_server.h"

namespace tern::xds {

namespace {
bool ParseRequest(const grpc::ByteBuffer& buf, google::protobuf::Message* req) {
  std::vector<grpc::Slice> slices;
  if (!buf.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buf.Length());
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return req->ParseFromString(bytes);
}
// Resources whose field is smaller than this are copied into the slice before them instead of
// referenced in place: one slice per resource grows gRPC's outgoing slice array to the number of
// resources in the largest response, and the transport keeps that capacity for the stream's life
// (an idle stream's memory is a tracked cost). Copying a few KiB per response is cheaper.
constexpr size_t kCopyBelow = 1024;

// The response as slices: the header and the small resources' fields are copied into owned
// buffers; each large resource's pre-encoded field is referenced in place and kept alive by a
// reference on its Resource until gRPC is done with it. Order is kept (protobuf fields may come
// in any order on the wire, but the resources' order is the response's).
grpc::ByteBuffer ToByteBuffer(PendingResponse&& resp) {
  std::vector<grpc::Slice> slices;
  auto* owned = new std::string(std::move(resp.header));
  auto flush = [&]() {
    if (owned->empty()) return;
    slices.emplace_back(owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
    owned = new std::string();
  };
  for (auto& part : resp.parts) {
    const std::string& field = resp.delta_parts ? part->delta_field : part->sotw_field;
    if (field.size() < kCopyBelow) {
      owned->append(field);
      continue;
    }
    flush();
    auto* keep = new cache::ResourcePtr(std::move(part));
    slices.emplace_back(const_cast<char*>(field.data()), field.size(),
                        [](void* p) { delete static_cast<cache::ResourcePtr*>(p); }, keep);
  }
  flush();
  delete owned;
  return grpc::ByteBuffer(slices.data(), slices.size());
}
// Node metadata larger than this is not kept (an idle stream's memory is a tracked cost; Envoy
// metadata is typically a few hundred bytes).
constexpr size_t kMaxKeptMetadataBytes = 16 * 1024;

// What CSDS and /debug/proxies show of a node, kept for the stream's life: not the extensions
// and client features an Envoy lists by the hundred.
std::string NodeSummary(const envoy::config::core::v3::Node& node, const std::string& peer) {
  envoy::config::core::v3::Node keep;
  keep.set_id(node.id());
  keep.set_cluster(node.cluster());
  if (node.has_metadata()) {
    if (node.metadata().ByteSizeLong() <= kMaxKeptMetadataBytes) {
      *keep.mutable_metadata() = node.metadata();
    } else {
      spdlog::warn("xds stream from {} (node {}/{}): node metadata of {} bytes not kept for CSDS and "
                   "/debug/proxies (limit {})",
                   peer, node.cluster(), node.id(), node.metadata().ByteSizeLong(), kMaxKeptMetadataBytes);
    }
  }
  if (node.has_locality()) *keep.mutable_locality() = node.locality();
  keep.set_user_agent_name(node.user_agent_name());
  if (node.has_user_agent_version()) keep.set_user_agent_version(node.user_agent_version());
  if (node.has_user_agent_build_version()) *keep.mutable_user_agent_build_version() = node.user_agent_build_version();
  return keep.SerializeAsString();
}
}  // namespace

template <typename P>
StreamReactor<P>::StreamReactor(grpc::CallbackServerContext* ctx, StreamDeps deps, std::optional<ResourceType> fixed_type,
                         std::string service_name)
    : ctx_(ctx), deps_(deps), handle_(std::make_shared<Handle>()), state_(fixed_type) {
  {
    absl::MutexLock hl(&handle_->mu);
    handle_->reactor = this;
  }
  opened_ = std::chrono::steady_clock::now();
  peer_ = ctx->peer();
  service_ = service_name;
  StreamIdentity info;
  info.peer = ctx->peer();
  info.service = std::move(service_name);
  info.delta = P::kDelta;
  info.connected_at = std::chrono::system_clock::now();
  registry_id_ = deps_.registry.Add(std::move(info), handle_);
  if (deps_.observer) deps_.observer->OnStreamOpened(P::kDelta);
  absl::MutexLock l(&mu_);
  StartRead(&request_);
}

template <typename P>
void StreamReactor<P>::OnReadDone(bool ok) {
  absl::MutexLock l(&mu_);
  if (!ok) {  // client half-closed or the stream broke
    FinishOnce(grpc::Status::OK);
    return;
  }
  if (finished_) return;
  HandleRequest();
  if (!finished_) StartRead(&request_);
}

template <typename P>
void StreamReactor<P>::HandleRequest() {
  Request req;
  bool parsed = ParseRequest(request_, &req);
  request_.Clear();  // an Envoy EDS request can name thousands of clusters: do not keep it around
  if (!parsed) {
    const std::string msg = "malformed request: not a valid " + req.GetDescriptor()->full_name();
    if (deps_.observer) deps_.observer->OnBadRequest(msg);
    spdlog::warn("xds stream {} from {}: {}", registry_id_, ctx_->peer(), msg);
    FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg));
    return;
  }
  if (!watching_) {
    // The first request identifies the proxy; later ones may omit node (xds_protocol.rst:
    // "Only the first request on a stream is guaranteed to carry the node identifier").
    if (!req.has_node() || (req.node().id().empty() && req.node().cluster().empty())) {
      const std::string msg = "the first DiscoveryRequest on a stream must carry node (id and cluster)";
      if (deps_.observer) deps_.observer->OnBadRequest(msg);
      FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg));
      return;
    }
    node_id_ = req.node().id();
    node_cluster_ = req.node().cluster();
    named_ = true;
    if (auto auth = ctx_->auth_context(); auth && auth->IsPeerAuthenticated()) {
      // The certificate's identity as gRPC reports it (its SANs, else its common name).
      for (const auto& v : auth->GetPeerIdentity()) {
        identity_ += (identity_.empty() ? "" : ",") + std::string(v.data(), v.size());
      }
    }
    if (deps_.authorizer) {
      absl::Status st = deps_.authorizer->Authorize(*ctx_, node_id_, node_cluster_);
      if (!st.ok()) {
        spdlog::warn("xds stream from {} refused: {}", ctx_->peer(), std::string(st.message()));
        FinishOnce(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(st.message())));
        return;
      }
    }
    std::string node = NodeSummary(req.node(), ctx_->peer());
    // For display (/debug/proxies is JSON); the raw node cluster still selects the snapshot. Made
    // here, under mu_, not in the callback (which the thread-safety analysis cannot see run here).
    std::string shown_id = SanitizeUtf8(node_id_);
    std::string shown_cluster = SanitizeUtf8(node_cluster_);
    deps_.registry.Update(registry_id_, [&](StreamIdentity& s) {
      s.node_id = std::move(shown_id);
      s.node_cluster = std::move(shown_cluster);
      s.node = std::move(node);
    });
    if (deps_.observer) deps_.observer->OnProxyEvent(BaseEvent(ProxyEvent::Kind::kConnect));
    std::weak_ptr<Handle> weak = handle_;
    FanoutPool* fanout = deps_.fanout;
    snapshot_ = deps_.watcher.Watch(
        node_cluster_,
        [weak, fanout](cache::SnapshotPtr snap, std::chrono::steady_clock::time_point published_at) {
          if (published_at == std::chrono::steady_clock::time_point{}) published_at = std::chrono::steady_clock::now();
          auto h = weak.lock();
          if (!h) return;
          if (!fanout) {
            absl::MutexLock hl(&h->mu);
            if (h->reactor) h->reactor->OnSnapshot(std::move(snap), published_at);
            return;
          }
          {
            absl::MutexLock sl(&h->slot_mu);
            h->pending = std::move(snap);
            if (h->pending_published == std::chrono::steady_clock::time_point{}) h->pending_published = published_at;
          }
          fanout->Schedule(std::move(h));
        },
        &watch_id_);
    watching_ = true;
  }

  RequestKind kind;
  ResourceType type;
  absl::Status st = state_.OnRequest(req, &kind, &type);
  if (!st.ok()) {
    if (deps_.observer) deps_.observer->OnBadRequest(std::string(st.message()));
    spdlog::warn("xds stream {} node {}/{}: {}", registry_id_, node_cluster_, node_id_, std::string(st.message()));
    FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(st.message())));
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const size_t ti = static_cast<size_t>(type);
  if (kind == RequestKind::kAck) {
    // Not stale, so it ACKs the last response of this type: the proxy holds all that was sent.
    unacked_since_[ti] = {};
    nacking_[ti] = false;
    if (converge_from_[ti] != TimePoint{} && deps_.observer) {
      deps_.observer->OnConverged(type, std::chrono::duration<double>(now - converge_from_[ti]).count());
    }
    converge_from_[ti] = {};
  }
  if (kind == RequestKind::kNack) {
    nacking_[ti] = true;
    spdlog::warn("NACK from {}/{} for {} (nonce {}): {}", node_cluster_, node_id_, ShortName(type),
                 req.response_nonce(), req.error_detail().message());
    if (deps_.observer) deps_.observer->OnNack(type, req.error_detail().message());
  } else if (kind == RequestKind::kAck) {
    if (deps_.observer) deps_.observer->OnAck(type);
  }
  if (deps_.observer && (kind == RequestKind::kAck || kind == RequestKind::kNack)) ReportAckOrNack(kind, type, req);
  requests_++;
  MaybeWrite();
}

template <typename P>
void StreamReactor<P>::Inspect(StreamView* out, bool detail) {
  absl::MutexLock l(&mu_);
  out->requests = requests_;
  for (ResourceType t : kAdsOrder) {
    if (detail) {
      out->types[static_cast<size_t>(t)] = state_.View(t);
    } else {
      out->types[static_cast<size_t>(t)].info = state_.info(t);
    }
    // The reactor's own timing state (the protocol state does not keep time).
    out->types[static_cast<size_t>(t)].info.unacked_since = unacked_since_[static_cast<size_t>(t)];
    out->types[static_cast<size_t>(t)].info.nacking = nacking_[static_cast<size_t>(t)];
  }
  if (detail) out->latest = snapshot_;
}

template <typename P>
void StreamReactor<P>::OnSnapshot(cache::SnapshotPtr snapshot, std::chrono::steady_clock::time_point published_at) {
  absl::MutexLock l(&mu_);
  snapshot_ = std::move(snapshot);
  if (push_published_ == TimePoint{}) push_published_ = published_at;
  MaybeWrite();
}

template <typename P>
void StreamReactor<P>::MaybeWrite() {
  if (finished_ || write_in_flight_ || !snapshot_) return;
  std::optional<PendingResponse> resp = state_.NextResponse(snapshot_);
  if (!resp) {
    push_published_ = {};  // up to date: the push (if any) is complete
    return;
  }
  const size_t ti = static_cast<size_t>(resp->type);
  if (unacked_since_[ti] == TimePoint{}) unacked_since_[ti] = std::chrono::steady_clock::now();
  in_flight_published_ = push_published_;
  if (push_published_ != TimePoint{} && converge_from_[ti] == TimePoint{}) converge_from_[ti] = push_published_;
  response_ = ToByteBuffer(std::move(*resp));
  write_in_flight_ = true;
  in_flight_type_ = resp->type;
  in_flight_bytes_ = response_.Length();
  in_flight_resources_ = resp->resources;
  StartWrite(&response_);
}

template <typename P>
void StreamReactor<P>::OnWriteDone(bool ok) {
  absl::MutexLock l(&mu_);
  write_in_flight_ = false;
  response_.Clear();  // release the shared resource bytes now, not at the next write
  if (ok && deps_.observer && in_flight_type_) {
    deps_.observer->OnResponseSent(*in_flight_type_, in_flight_resources_, in_flight_bytes_);
    if (in_flight_published_ != TimePoint{}) {
      deps_.observer->OnPushLatency(
          *in_flight_type_,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - in_flight_published_).count());
    }
  }
  in_flight_published_ = {};
  if (!ok) {
    FinishOnce(grpc::Status::OK);
    return;
  }
  MaybeWrite();
}

template <typename P>
void StreamReactor<P>::FinishOnce(grpc::Status status) {
  if (finished_) return;
  finished_ = true;
  finish_code_ = status.error_code();
  finish_message_ = status.error_message();
  Finish(std::move(status));
}

template <typename P>
void StreamReactor<P>::OnCancel() {
  absl::MutexLock l(&mu_);
  cancelled_ = true;
}

template <typename P>
ProxyEvent StreamReactor<P>::BaseEvent(ProxyEvent::Kind kind) const {
  ProxyEvent e;
  e.kind = kind;
  e.stream_id = registry_id_;
  e.node_id = node_id_;
  e.node_cluster = node_cluster_;
  e.identity = identity_;
  e.peer = peer_;
  e.service = service_;
  e.delta = P::kDelta;
  return e;
}

// A proxy re-ACKs the same version every time it changes its subscriptions; that is not news.
// What is: a version it had not ACKed, a NACK (after an ACK, or with another error), an ACK
// after a NACK.
template <typename P>
void StreamReactor<P>::ReportAckOrNack(RequestKind kind, ResourceType type, const Request& req) {
  const TypeInfo& info = state_.info(type);
  const bool nack = kind == RequestKind::kNack;
  Reported now{kind, nack ? info.version_sent : info.version_acked, nack ? req.error_detail().message() : ""};
  auto& last = reported_[static_cast<size_t>(type)];
  if (last && last->kind == now.kind && last->version == now.version && last->error == now.error) return;
  ProxyEvent e = BaseEvent(nack ? ProxyEvent::Kind::kNack : ProxyEvent::Kind::kAck);
  e.type = type;
  e.version = now.version;
  e.nonce = req.response_nonce();
  if (nack) {
    e.error = now.error;
    e.error_code = req.error_detail().code();
  }
  last = std::move(now);
  deps_.observer->OnProxyEvent(e);
}

template <typename P>
void StreamReactor<P>::OnDone() {
  {
    absl::MutexLock hl(&handle_->mu);
    handle_->reactor = nullptr;
  }
  bool watching;
  uint64_t watch_id;
  std::optional<ProxyEvent> closed;
  {
    absl::MutexLock l(&mu_);
    watching = watching_;
    watch_id = watch_id_;
    if (named_ && deps_.observer) {
      closed = BaseEvent(ProxyEvent::Kind::kDisconnect);
      // A stream we ended carries our status; one the client dropped or cancelled is CANCELLED.
      closed->grpc_code = finish_code_ != grpc::StatusCode::OK || !cancelled_ ? static_cast<int>(finish_code_)
                                                                              : static_cast<int>(grpc::StatusCode::CANCELLED);
      closed->grpc_message = finish_code_ != grpc::StatusCode::OK ? finish_message_ : "";
      closed->duration = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened_);
    }
  }
  if (closed) deps_.observer->OnProxyEvent(*closed);
  if (watching) deps_.watcher.CancelWatch(watch_id);
  deps_.registry.Remove(registry_id_);
  if (deps_.observer) deps_.observer->OnStreamClosed(P::kDelta);
  delete this;
}

template class StreamReactor<SotwProtocol>;
template class StreamReactor<DeltaProtocol>;

}  // namespace tern::xds
