#pragma once
// Small helpers shared by the builders: durations, config sources, string matchers.
#include <chrono>
#include <string>

#include "envoy/config/core/v3/config_source.pb.h"
#include "envoy/type/matcher/v3/string.pb.h"
#include "google/protobuf/duration.pb.h"
#include "model/model.h"

namespace tern::translate {

void SetDuration(std::chrono::milliseconds d, google::protobuf::Duration* out);

// Points RDS/EDS at the management server the client already talks to. gRPC's xDS client only
// accepts `ads` or `self` here, and Envoy prefers ADS so that ordering holds; anything else
// falls back to ADS.
void SetConfigSource(const std::string& kind, envoy::config::core::v3::ConfigSource* out);

// Fills a StringMatcher for every kind but kPresent (which has no StringMatcher form).
void SetStringMatcher(const model::StringMatch& m, envoy::type::matcher::v3::StringMatcher* out);

}  // namespace tern::translate
