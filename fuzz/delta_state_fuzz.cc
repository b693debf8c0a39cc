// The incremental (delta) stream state machine (src/xds/delta_state.h), driven like the reactor
// drives it: random requests (subscribe / unsubscribe, "*", initial_resource_versions, ACKs,
// NACKs, stale and garbage nonces) and random snapshots; after each event every response it
// asks for is "written". Invariants from the header's rules:
//   - a response only for a type the client requested; nonces are numbers, strictly increasing;
//   - stale nonces are neither ACK nor NACK; first requests are initial;
//   - a resource is sent only to a subscriber (named, or wildcard and visible to wildcards);
//   - a resource is never re-sent at the version the client holds (declared in
//     initial_resource_versions or sent before) unless the client subscribed to it again;
//   - a name is reported removed only if the client could hold it, and the removed names are
//     not in the snapshot;
//   - an ACK or NACK that changes no subscription, with no new snapshot, is answered by nothing;
//   - the responses to one event end.
// Snapshots come from scratch or derived from the previous one (Snapshot::Derive, with change
// lists), sometimes through one the stream never sees; a twin state fed the same contents built
// from scratch must answer byte for byte the same (the change lists only make it cheaper).
// Virtual hosts (VHDS) are requested too, for crashes and nonces; their names are aliases, so
// the per-resource checks skip them.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/delta_state.h"
#include "xds_fuzz_world.h"

using namespace tern;
using namespace tern::fuzz;
using envoy::service::discovery::v3::DeltaDiscoveryRequest;
using envoy::service::discovery::v3::DeltaDiscoveryResponse;

namespace {

// TERN_FUZZ_TRACE=1: print every event and response (to read a failing input).
const bool kTrace = std::getenv("TERN_FUZZ_TRACE") != nullptr;

std::string Describe(const cache::Snapshot& s) {
  std::string out;
  for (ResourceType t : kAdsOrder) {
    out += std::string(ShortName(t)) + "{";
    for (const auto& [n, r] : s.Get(t).resources) out += n + "@" + r->version.substr(0, 6) + (r->wildcard ? "" : "(named-only)") + " ";
    out += "} ";
  }
  return out;
}

struct ClientView {
  bool requested = false;
  std::set<std::string> names;
  std::string last_nonce;
  std::map<std::string, std::string> held;  // name → version the client holds
  std::set<std::string> ever_known;         // names the client held or subscribed at some point
};

struct Run {
  std::optional<ResourceType> fixed;
  tern::xds::DeltaState state;
  cache::SnapshotPtr snapshot;
  // The same stream fed the same contents built from scratch: it must answer the same bytes
  // (the change lists are an optimization, never a different answer).
  tern::xds::DeltaState twin;
  cache::SnapshotPtr twin_snapshot;
  bool flag_only = false;  // the twin comparison is void (see DeriveTo)
  std::array<ClientView, kNumResourceTypes> client;
  uint64_t last_nonce = 0;
  std::vector<std::string> nonces;
  std::set<std::string> rewarming;  // clusters sent whose endpoints may follow unchanged

  explicit Run(std::optional<ResourceType> f) : fixed(f), state(f), twin(f) {}
  void Publish(cache::SnapshotPtr s) {
    twin_snapshot = FromScratch(*s);
    snapshot = std::move(s);
  }
  ClientView& View(ResourceType t) { return client[static_cast<size_t>(t)]; }

  size_t Drain() {
    size_t n = 0;
    for (; n < 64; ++n) {
      auto resp = state.NextResponse(snapshot);
      auto twin_resp = twin.NextResponse(twin_snapshot);
      if (!flag_only) {
        FUZZ_CHECK(resp.has_value() == twin_resp.has_value() && (!resp || resp->Serialize() == twin_resp->Serialize()),
                   "the response from the change lists differs from the full comparison's");
      }
      if (!resp) return n;
      const ResourceType t = resp->type;
      ClientView& v = View(t);
      if (kTrace) {
        std::string parts;
        for (const auto& p : resp->parts) parts += p->name + "@" + p->version.substr(0, 6) + " ";
        std::fprintf(stderr, "  <- %s nonce %s version %s: %s\n", std::string(ShortName(t)).c_str(), resp->nonce.c_str(),
                     resp->version.substr(0, 6).c_str(), parts.c_str());
      }
      FUZZ_CHECK(v.requested, "a response for a type the client never requested");
      const uint64_t nonce = NonceNumber(resp->nonce);
      FUZZ_CHECK(nonce > last_nonce, "nonce did not increase: " + resp->nonce);
      last_nonce = nonce;
      nonces.push_back(resp->nonce);
      v.last_nonce = resp->nonce;
      // The response as the client parses it (header + parts).
      DeltaDiscoveryResponse parsed;
      FUZZ_CHECK(parsed.ParseFromString(resp->Serialize()), "the response does not parse");
      FUZZ_CHECK(parsed.nonce() == resp->nonce, "the nonce on the wire differs");
      if (t == ResourceType::kVirtualHost) continue;
      const tern::xds::TypeInfo& info = state.info(t);
      const cache::TypeSet& set = snapshot->Get(t);
      for (const auto& part : resp->parts) {
        FUZZ_CHECK(v.names.contains(part->name) || (info.wildcard && part->wildcard),
                   "sent " + part->name + " to a client that does not subscribe to it");
        auto held = v.held.find(part->name);
        // On ADS a (re)sent cluster is followed by its endpoints even if unchanged: Envoy re-warms
        // the cluster and waits for its ClusterLoadAssignment.
        const bool rewarm = t == ResourceType::kEndpoint && rewarming.erase(part->name) > 0;
        FUZZ_CHECK(held == v.held.end() || held->second != part->version || rewarm,
                   "re-sent " + part->name + " at the version the client holds");
        if (t == ResourceType::kCluster && !fixed) rewarming.insert(part->name);
        v.held[part->name] = part->version;
        v.ever_known.insert(part->name);
      }
      for (const auto& removed : parsed.removed_resources()) {
        auto in_snapshot = set.resources.find(removed);
        FUZZ_CHECK(in_snapshot == set.resources.end() ||
                       !(v.names.contains(removed) || (info.wildcard && in_snapshot->second->wildcard)),
                   "removed " + removed + ", which the snapshot has for this subscriber");
        v.held.erase(removed);
      }
    }
    FUZZ_CHECK(false, "64 responses for one event: the responses never end");
    return n;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  std::optional<ResourceType> fixed;
  if (in.Below(4) == 0) fixed = RandomType(in, true);
  Run run(fixed);
  run.Publish(RandomSnapshot(in));
  if (kTrace) std::fprintf(stderr, "%s, snapshot %s\n", fixed ? std::string(ShortName(*fixed)).c_str() : "ADS", Describe(*run.snapshot).c_str());

  for (int step = 0; step < 48 && !in.empty(); ++step) {
    if (in.Below(4) == 0) {
      run.Publish(NextSnapshot(in, run.snapshot, &run.flag_only));
      if (kTrace) std::fprintf(stderr, "snapshot %s\n", Describe(*run.snapshot).c_str());
      run.Drain();
      continue;
    }
    DeltaDiscoveryRequest req;
    ResourceType t = fixed ? *fixed : RandomType(in, true);
    const size_t type_choice = in.Below(10);
    if (fixed && type_choice == 0) {
    } else if (type_choice == 1) {
      req.set_type_url("type.googleapis.com/unknown");
    } else {
      req.set_type_url(std::string(TypeUrl(t)));
    }
    ClientView& v = run.View(t);
    const bool first = !v.requested;
    const auto name_of = [&](size_t i) {
      const std::string n = kNames[i];
      return t == ResourceType::kVirtualHost && n != "*" ? "rc/" + n + ".example.com" : n;
    };
    std::set<std::string> subscribed, unsubscribed;
    bool changes = false;
    for (size_t i = 0, count = in.Below(4); i < count; ++i) {
      req.add_resource_names_subscribe(name_of(in.Below(kNames.size())));
      changes = true;
    }
    for (size_t i = 0, count = in.Below(3); i < count; ++i) {
      req.add_resource_names_unsubscribe(name_of(in.Below(kNames.size())));
      changes = true;
    }
    if (first && in.Bool()) {
      for (size_t i = 0, count = in.Below(4); i < count; ++i) {
        const std::string n = name_of(in.Below(4));
        const auto& set = run.snapshot->Get(t).resources;
        auto it = set.find(n);
        (*req.mutable_initial_resource_versions())[n] = it != set.end() && in.Bool() ? it->second->version : in.String(3);
      }
    }
    switch (in.Below(5)) {
      case 0: break;
      case 1: case 2: req.set_response_nonce(v.last_nonce); break;
      case 3: req.set_response_nonce(run.nonces.empty() ? "1" : run.nonces[in.Below(run.nonces.size())]); break;
      default: req.set_response_nonce(in.String(4)); break;
    }
    if (in.Below(4) == 0) req.mutable_error_detail()->set_message(in.String(8));

    const tern::xds::TypeInfo before = run.state.info(t);
    tern::xds::RequestKind kind;
    ResourceType got;
    if (kTrace) std::fprintf(stderr, "-> %s\n", req.ShortDebugString().c_str());
    absl::Status st = run.state.OnRequest(req, &kind, &got);
    {
      tern::xds::RequestKind twin_kind;
      ResourceType twin_got;
      absl::Status twin_st = run.twin.OnRequest(req, &twin_kind, &twin_got);
      FUZZ_CHECK(run.flag_only || (twin_st.ok() == st.ok() && (!st.ok() || twin_kind == kind)),
                 "the twin took the request otherwise");
    }
    if (!st.ok()) {
      FUZZ_CHECK(req.type_url() != TypeUrl(t), "a well-formed request refused: " + std::string(st.message()));
      return 0;
    }
    FUZZ_CHECK(got == t, "the request was taken for another type");
    const tern::xds::TypeInfo& after = run.state.info(t);
    if (first) {
      FUZZ_CHECK(kind == tern::xds::RequestKind::kInitial, "a first request not taken as initial");
    } else if (req.response_nonce().empty()) {
      FUZZ_CHECK(kind == tern::xds::RequestKind::kUpdate, "a request without nonce not taken as an update");
    } else if (req.response_nonce() != v.last_nonce) {
      FUZZ_CHECK(kind == tern::xds::RequestKind::kStale, "a stale nonce taken as ACK or NACK");
      FUZZ_CHECK(after.acks == before.acks && after.nacks == before.nacks, "a stale nonce moved the ACK/NACK counters");
    } else {
      FUZZ_CHECK(kind == (req.has_error_detail() ? tern::xds::RequestKind::kNack : tern::xds::RequestKind::kAck),
                 "the latest nonce not taken as ACK/NACK");
    }

    // The client's side of the subscription change.
    v.requested = true;
    if (first) {
      for (const auto& [n, version] : req.initial_resource_versions()) v.held[n] = version;
    }
    for (const auto& n : req.resource_names_subscribe()) {
      if (n == "*") continue;
      if (!(first && req.initial_resource_versions().contains(n))) v.held.erase(n);  // "send it again"
      v.names.insert(n);
    }
    for (const auto& n : req.resource_names_unsubscribe()) {
      if (n == "*") {
        for (auto it = v.held.begin(); it != v.held.end();) it = v.names.contains(it->first) ? std::next(it) : v.held.erase(it);
        continue;
      }
      v.names.erase(n);
      v.held.erase(n);
    }
    for (const auto& n : req.resource_names_subscribe()) {
      if (n == "*") FUZZ_CHECK(after.wildcard || std::count(req.resource_names_unsubscribe().begin(),
                                                            req.resource_names_unsubscribe().end(), "*") > 0,
                               "\"*\" did not make a wildcard subscriber");
    }
    const size_t sent = run.Drain();
    if ((kind == tern::xds::RequestKind::kAck || kind == tern::xds::RequestKind::kNack) && !changes) {
      FUZZ_CHECK(sent == 0, "an ACK/NACK that changed nothing was answered");
    }
  }
  return 0;
}
