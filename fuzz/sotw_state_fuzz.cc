// The state-of-the-world stream state machine (src/xds/sotw_state.h), driven like the reactor
// drives it: random requests (subscriptions, ACKs, NACKs, stale and garbage nonces, versions on
// reconnect) and random snapshots; after each event every response it asks for is "written"
// (NextResponse until nothing is left). The protocol rules of the header, as invariants:
//   - a response only for a type the client requested;
//   - nonces are numbers, strictly increasing on the stream;
//   - a request whose nonce is not the last one sent for its type is stale: neither ACK nor NACK
//     (the counters do not move); a first request is initial; an empty nonce is an update;
//   - an ACK or NACK that changes no subscription, with no new snapshot, is answered by nothing
//     (nothing is re-sent for an unchanged version; a NACKed config is not re-sent);
//   - RDS/SDS (and EDS off ADS) never re-send a resource at the version the client holds unless
//     the client newly names it;
//   - a resource is sent only to a client that subscribes to it: named, or wildcard (and the
//     resource visible to wildcards), or a cluster lingering for make-before-break;
//   - "*" makes the client a wildcard subscriber; names without "*" (after the first request) end it;
//   - the responses to one event end (no endless stream of responses).
// Snapshots come from scratch or derived from the previous one (Snapshot::Derive, with change
// lists), sometimes through one the stream never sees; a twin state fed the same contents built
// from scratch must answer byte for byte the same (the change lists only make it cheaper).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/sotw_state.h"
#include "xds_fuzz_world.h"

using namespace tern;
using namespace tern::fuzz;
using envoy::service::discovery::v3::DiscoveryRequest;

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
  std::set<std::string> names;  // without "*"
  bool star = false;
  std::string last_nonce;    // last nonce sent for the type
  std::string last_version;  // last version sent for the type
  std::map<std::string, std::string> held;  // name → version the client got
  std::set<std::string> ever_sent;
};

struct Run {
  std::optional<ResourceType> fixed;
  tern::xds::SotwState state;
  cache::SnapshotPtr snapshot;
  // The same stream fed the same contents built from scratch: it must answer the same bytes
  // (the change lists are an optimization, never a different answer).
  tern::xds::SotwState twin;
  cache::SnapshotPtr twin_snapshot;
  bool flag_only = false;  // the twin comparison is void (see DeriveTo)
  std::array<ClientView, kNumResourceTypes> client;
  uint64_t last_nonce = 0;
  std::vector<std::string> nonces;

  explicit Run(std::optional<ResourceType> f) : fixed(f), state(f), twin(f) {}
  void Publish(cache::SnapshotPtr s) {
    twin_snapshot = FromScratch(*s);
    snapshot = std::move(s);
  }

  ClientView& View(ResourceType t) { return client[static_cast<size_t>(t)]; }

  // Writes every response the state asks for; returns how many.
  size_t Drain(const std::set<std::string>* newly_named = nullptr, ResourceType named_type = ResourceType::kCluster) {
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
      v.last_version = resp->version;
      const tern::xds::TypeInfo& info = state.info(t);
      const cache::TypeSet& set = snapshot->Get(t);
      for (const auto& part : resp->parts) {
        const bool named = v.names.contains(part->name);
        const bool in_snapshot = set.resources.contains(part->name);
        const bool lingering = t == ResourceType::kCluster && !in_snapshot && v.ever_sent.contains(part->name);
        FUZZ_CHECK(named || (info.wildcard && part->wildcard) || lingering,
                   "sent " + part->name + " to a client that does not subscribe to it");
        FUZZ_CHECK(in_snapshot || lingering, "sent " + part->name + ", which is in no snapshot the client was sent");
        const bool partial = t == ResourceType::kRoute || t == ResourceType::kSecret ||
                             (t == ResourceType::kEndpoint && fixed.has_value());
        auto held = v.held.find(part->name);
        const bool renamed = newly_named && named_type == t && newly_named->contains(part->name);
        if (partial && held != v.held.end() && !renamed) {
          FUZZ_CHECK(held->second != part->version, "re-sent " + part->name + " at the version the client holds");
        }
        v.held[part->name] = part->version;
        v.ever_sent.insert(part->name);
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
  if (in.Below(4) == 0) fixed = RandomType(in, false);
  Run run(fixed);
  run.Publish(RandomSnapshot(in));
  if (kTrace) std::fprintf(stderr, "%s, snapshot %s\n", fixed ? std::string(ShortName(*fixed)).c_str() : "ADS", Describe(*run.snapshot).c_str());

  for (int step = 0; step < 48 && !in.empty(); ++step) {
    if (in.Below(4) == 0) {
      run.Publish(NextSnapshot(in, run.snapshot, &run.flag_only));
      // A resource that leaves the snapshot (or the client's view) and comes back is sent again,
      // even at the same version (SotW never told the client of RDS/EDS/SDS that it left): tern
      // tracks what the client holds by snapshot, not by resource. Harmless; not counted.
      for (ResourceType t : kAdsOrder) {
        auto& held = run.View(t).held;
        const auto& set = run.snapshot->Get(t).resources;
        const bool wildcard = run.state.info(t).wildcard;
        for (auto it = held.begin(); it != held.end();) {
          auto r = set.find(it->first);
          const bool visible = r != set.end() && (run.View(t).names.contains(it->first) || (wildcard && r->second->wildcard));
          it = visible ? std::next(it) : held.erase(it);
        }
      }
      if (kTrace) std::fprintf(stderr, "snapshot %s\n", Describe(*run.snapshot).c_str());
      run.Drain();
      continue;
    }
    // A request.
    DiscoveryRequest req;
    ResourceType t = fixed ? *fixed : RandomType(in, false);
    const size_t type_choice = in.Below(8);
    if (fixed && type_choice == 0) {
      // the per-type services accept an empty type_url
    } else if (type_choice == 1) {
      req.set_type_url(in.Bool() ? "type.googleapis.com/unknown" : std::string(TypeUrl(ResourceType::kVirtualHost)));
    } else {
      req.set_type_url(std::string(TypeUrl(t)));
    }
    ClientView& v = run.View(t);
    std::set<std::string> names;
    bool star = false;
    const size_t count = in.Below(5);
    for (size_t i = 0; i < count; ++i) {
      const std::string n = kNames[in.Below(kNames.size())];
      req.add_resource_names(n);
      if (n == "*") star = true;
      else names.insert(n);
    }
    switch (in.Below(5)) {
      case 0: break;  // no nonce
      case 1: case 2: req.set_response_nonce(v.last_nonce); break;
      case 3: req.set_response_nonce(run.nonces.empty() ? "1" : run.nonces[in.Below(run.nonces.size())]); break;
      default: req.set_response_nonce(in.String(4)); break;
    }
    switch (in.Below(3)) {
      case 0: break;
      case 1: req.set_version_info(v.last_version); break;
      default: req.set_version_info(run.snapshot->Get(t).version); break;
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
      // Malformed: the stream ends (unknown type, virtual hosts on SotW, another type on a per-type service).
      FUZZ_CHECK(req.type_url() != TypeUrl(t) || t == ResourceType::kVirtualHost,
                 "a well-formed request refused: " + std::string(st.message()));
      return 0;
    }
    FUZZ_CHECK(got == t, "the request was taken for another type");
    const tern::xds::TypeInfo& after = run.state.info(t);
    const bool first = !v.requested;
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
    if (star) FUZZ_CHECK(after.wildcard, "\"*\" did not make a wildcard subscriber");
    if (!star && !names.empty()) FUZZ_CHECK(!after.wildcard, "names without \"*\" left the client a wildcard subscriber");

    std::set<std::string> newly_named;
    for (const auto& n : names) {
      if (!v.names.contains(n)) newly_named.insert(n);
    }
    const bool same_subscription = !first && names == v.names && star == v.star;
    if (first && !req.version_info().empty() && req.version_info() == run.snapshot->Get(t).version) {
      // A reconnecting client that holds the current version holds its resources (and is sent
      // nothing for them): what it may later see lingering or re-sent.
      for (const auto& [n, r] : run.snapshot->Get(t).resources) {
        v.held[n] = r->version;
        v.ever_sent.insert(n);
      }
    }
    // A client drops what it no longer subscribes to: sending it again later is not a re-send.
    if (!after.wildcard) {
      for (auto it = v.held.begin(); it != v.held.end();) it = names.contains(it->first) ? std::next(it) : v.held.erase(it);
    }
    v.requested = true;
    v.names = names;
    v.star = star;
    const size_t sent = run.Drain(&newly_named, t);
    if ((kind == tern::xds::RequestKind::kAck || kind == tern::xds::RequestKind::kNack) && same_subscription) {
      FUZZ_CHECK(sent == 0, "an ACK/NACK that changed nothing was answered");
    }
  }
  return 0;
}
