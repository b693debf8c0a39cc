#include "translate/proto_util.h"

namespace tern::translate {

void SetDuration(std::chrono::milliseconds d, google::protobuf::Duration* out) {
  const int64_t ms = d.count();
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

void SetConfigSource(const std::string& kind, envoy::config::core::v3::ConfigSource* out) {
  if (kind == "self") {
    out->mutable_self();
  } else {
    out->mutable_ads();
  }
  out->set_resource_api_version(envoy::config::core::v3::V3);
}

void SetStringMatcher(const model::StringMatch& m, envoy::type::matcher::v3::StringMatcher* out) {
  using Kind = model::StringMatch::Kind;
  switch (m.kind) {
    case Kind::kExact: out->set_exact(m.value); break;
    case Kind::kPrefix: out->set_prefix(m.value); break;
    case Kind::kSuffix: out->set_suffix(m.value); break;
    case Kind::kContains: out->set_contains(m.value); break;
    case Kind::kRegex: out->mutable_safe_regex()->set_regex(m.value); break;
    case Kind::kPresent: break;
  }
}

}  // namespace tern::translate
