#include "translate/http_policy.h"

#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "envoy/config/trace/v3/opentelemetry.pb.h"
#include "envoy/config/trace/v3/zipkin.pb.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/grpc/v3/als.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "translate/proto_util.h"

namespace tern::translate {
namespace {

namespace accesslog = envoy::config::accesslog::v3;
using envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;

void SetPercent(double value, envoy::type::v3::Percent* out) { out->set_value(value); }

void ApplyTracing(const model::Tracing& t, const std::string& gateway, HttpConnectionManager* hcm) {
  auto* tracing = hcm->mutable_tracing();
  SetPercent(t.random_sampling, tracing->mutable_random_sampling());
  SetPercent(t.client_sampling, tracing->mutable_client_sampling());
  SetPercent(t.overall_sampling, tracing->mutable_overall_sampling());
  for (const auto& tag : t.tags) {
    auto* ct = tracing->add_custom_tags();
    ct->set_tag(tag.name);
    switch (tag.kind) {
      case model::Tracing::Tag::Kind::kLiteral: ct->mutable_literal()->set_value(tag.value); break;
      case model::Tracing::Tag::Kind::kRequestHeader:
        ct->mutable_request_header()->set_name(tag.value);
        ct->mutable_request_header()->set_default_value(tag.default_value);
        break;
      case model::Tracing::Tag::Kind::kEnvironment:
        ct->mutable_environment()->set_name(tag.value);
        ct->mutable_environment()->set_default_value(tag.default_value);
        break;
    }
  }
  auto* provider = tracing->mutable_provider();
  const std::string service = t.service_name.empty() ? gateway : t.service_name;
  if (t.provider == model::Tracing::Provider::kOpenTelemetry) {
    envoy::config::trace::v3::OpenTelemetryConfig otel;
    otel.mutable_grpc_service()->mutable_envoy_grpc()->set_cluster_name(t.collector_cluster);
    otel.set_service_name(service);
    provider->set_name(kOpenTelemetryTracerName);
    provider->mutable_typed_config()->PackFrom(otel);
  } else {
    envoy::config::trace::v3::ZipkinConfig zipkin;
    zipkin.set_collector_cluster(t.collector_cluster);
    zipkin.set_collector_endpoint(t.zipkin_endpoint);
    zipkin.set_collector_endpoint_version(envoy::config::trace::v3::ZipkinConfig::HTTP_JSON);
    zipkin.set_trace_id_128bit(true);  // ids as long as W3C's, so traces join across providers
    // Zipkin spans are named after the Envoy's node.cluster, which is the gateway's name.
    provider->set_name(kZipkinTracerName);
    provider->mutable_typed_config()->PackFrom(zipkin);
  }
}

accesslog::ComparisonFilter Compare(accesslog::ComparisonFilter::Op op, uint32_t value, const std::string& key) {
  accesslog::ComparisonFilter c;
  c.set_op(op);
  c.mutable_value()->set_default_value(value);
  c.mutable_value()->set_runtime_key(key);  // required by Envoy; nobody sets it, the default holds
  return c;
}

// Status ranges (any of them; HTTP only) and sampling, as one Envoy filter; false when nothing
// filters.
bool BuildFilter(const model::AccessLog& log, size_t index, bool http, accesslog::AccessLogFilter* out) {
  std::vector<accesslog::AccessLogFilter> parts;
  const std::string key = "tern.access_log." + std::to_string(index);
  std::vector<accesslog::AccessLogFilter> ranges;
  for (const auto& r : http ? log.status_ranges : std::vector<model::AccessLog::StatusRange>{}) {
    accesslog::AccessLogFilter range;
    auto* both = range.mutable_and_filter();
    *both->add_filters()->mutable_status_code_filter()->mutable_comparison() =
        Compare(accesslog::ComparisonFilter::GE, r.min, key + ".status_min");
    *both->add_filters()->mutable_status_code_filter()->mutable_comparison() =
        Compare(accesslog::ComparisonFilter::LE, r.max, key + ".status_max");
    ranges.push_back(std::move(range));
  }
  if (ranges.size() == 1) {
    parts.push_back(std::move(ranges[0]));
  } else if (ranges.size() > 1) {
    accesslog::AccessLogFilter any;
    for (auto& r : ranges) *any.mutable_or_filter()->add_filters() = std::move(r);
    parts.push_back(std::move(any));
  }
  if (log.sample_percent < 100.0) {
    accesslog::AccessLogFilter sample;
    auto* rf = sample.mutable_runtime_filter();
    rf->set_runtime_key(key + ".sample");
    // Hundredths of a percent: per ten thousand.
    rf->mutable_percent_sampled()->set_numerator(static_cast<uint32_t>(log.sample_percent * 100 + 0.5));
    rf->mutable_percent_sampled()->set_denominator(envoy::type::v3::FractionalPercent::TEN_THOUSAND);
    parts.push_back(std::move(sample));
  }
  if (parts.empty()) return false;
  if (parts.size() == 1) {
    *out = std::move(parts[0]);
  } else {
    for (auto& p : parts) *out->mutable_and_filter()->add_filters() = std::move(p);
  }
  return true;
}

void SetFormat(const model::AccessLog& log, bool http, envoy::config::core::v3::SubstitutionFormatString* out) {
  if (!log.text_format.empty()) {
    out->mutable_text_format_source()->set_inline_string(log.text_format);
    return;
  }
  auto* fields = out->mutable_json_format()->mutable_fields();
  if (log.json_format.empty()) {
    for (const auto& [name, op] : http ? DefaultAccessLogFields() : DefaultConnectionAccessLogFields()) {
      (*fields)[name].set_string_value(op);
    }
  } else {
    for (const auto& [name, op] : log.json_format) (*fields)[name].set_string_value(op);
  }
}

// One access log of an HTTP connection manager (`http`) or of connections (a TCP proxy, a listener).
void BuildAccessLog(const model::AccessLog& log, size_t index, bool http, accesslog::AccessLog* out) {
  if (!BuildFilter(log, index, http, out->mutable_filter())) out->clear_filter();
  using Sink = model::AccessLog::Sink;
  switch (log.sink) {
    case Sink::kFile: {
      envoy::extensions::access_loggers::file::v3::FileAccessLog file;
      file.set_path(log.path);
      SetFormat(log, http, file.mutable_log_format());
      out->set_name("envoy.access_loggers.file");
      out->mutable_typed_config()->PackFrom(file);
      break;
    }
    case Sink::kStdout: {
      envoy::extensions::access_loggers::stream::v3::StdoutAccessLog stdout_log;
      SetFormat(log, http, stdout_log.mutable_log_format());
      out->set_name("envoy.access_loggers.stdout");
      out->mutable_typed_config()->PackFrom(stdout_log);
      break;
    }
    case Sink::kStderr: {
      envoy::extensions::access_loggers::stream::v3::StderrAccessLog stderr_log;
      SetFormat(log, http, stderr_log.mutable_log_format());
      out->set_name("envoy.access_loggers.stderr");
      out->mutable_typed_config()->PackFrom(stderr_log);
      break;
    }
    case Sink::kGrpc: {
      envoy::extensions::access_loggers::grpc::v3::CommonGrpcAccessLogConfig common;
      common.set_log_name(log.grpc_log_name);
      common.mutable_grpc_service()->mutable_envoy_grpc()->set_cluster_name(log.grpc_cluster);
      common.set_transport_api_version(envoy::config::core::v3::V3);
      if (http) {
        envoy::extensions::access_loggers::grpc::v3::HttpGrpcAccessLogConfig grpc;
        *grpc.mutable_common_config() = std::move(common);
        out->set_name("envoy.access_loggers.http_grpc");
        out->mutable_typed_config()->PackFrom(grpc);
      } else {
        envoy::extensions::access_loggers::grpc::v3::TcpGrpcAccessLogConfig grpc;
        *grpc.mutable_common_config() = std::move(common);
        out->set_name("envoy.access_loggers.tcp_grpc");
        out->mutable_typed_config()->PackFrom(grpc);
      }
      break;
    }
  }
}

LocalRateLimit MakeLimit(const std::string& stat_prefix, const model::RateLimit* limit) {
  LocalRateLimit out;
  out.set_stat_prefix(stat_prefix);
  // Envoy's defaults enable and enforce the filter for 0% of requests; say 100%.
  for (auto* f : {out.mutable_filter_enabled(), out.mutable_filter_enforced()}) {
    f->mutable_default_value()->set_numerator(100);
    f->mutable_default_value()->set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
  }
  out.mutable_filter_enabled()->set_runtime_key("tern.local_rate_limit.enabled");
  out.mutable_filter_enforced()->set_runtime_key("tern.local_rate_limit.enforced");
  if (limit == nullptr) return out;
  auto* bucket = out.mutable_token_bucket();
  bucket->set_max_tokens(limit->max_tokens);
  bucket->mutable_tokens_per_fill()->set_value(limit->tokens_per_fill);
  SetDuration(limit->fill_interval, bucket->mutable_fill_interval());
  out.mutable_status()->set_code(static_cast<envoy::type::v3::StatusCode>(limit->status));
  if (limit->response_headers) {
    out.set_enable_x_ratelimit_headers(envoy::extensions::common::ratelimit::v3::DRAFT_VERSION_03);
  }
  return out;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& DefaultConnectionAccessLogFields() {
  static const std::vector<std::pair<std::string, std::string>> kFields = {
      {"start_time", "%START_TIME%"},
      {"duration_ms", "%DURATION%"},
      {"response_flags", "%RESPONSE_FLAGS%"},
      {"upstream_host", "%UPSTREAM_HOST%"},
      {"upstream_cluster", "%UPSTREAM_CLUSTER%"},
      {"bytes_received", "%BYTES_RECEIVED%"},
      {"bytes_sent", "%BYTES_SENT%"},
      {"downstream_address", "%DOWNSTREAM_REMOTE_ADDRESS%"},
      {"requested_server_name", "%REQUESTED_SERVER_NAME%"},
  };
  return kFields;
}

void AddConnectionAccessLogs(const std::vector<model::AccessLog>& logs, bool listener_only,
                             google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>* out) {
  for (size_t i = 0; i < logs.size(); ++i) {
    if (listener_only && !logs[i].listener) continue;
    BuildAccessLog(logs[i], i, /*http=*/false, out->Add());
  }
}

const std::vector<std::pair<std::string, std::string>>& DefaultAccessLogFields() {
  static const std::vector<std::pair<std::string, std::string>> kFields = {
      {"start_time", "%START_TIME%"},
      {"method", "%REQ(:METHOD)%"},
      {"path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"},
      {"authority", "%REQ(:AUTHORITY)%"},
      {"protocol", "%PROTOCOL%"},
      {"response_code", "%RESPONSE_CODE%"},
      {"response_flags", "%RESPONSE_FLAGS%"},
      {"duration_ms", "%DURATION%"},
      {"upstream_host", "%UPSTREAM_HOST%"},
      {"upstream_cluster", "%UPSTREAM_CLUSTER%"},
      {"bytes_received", "%BYTES_RECEIVED%"},
      {"bytes_sent", "%BYTES_SENT%"},
      {"request_id", "%REQ(X-REQUEST-ID)%"},
      {"trace_id", "%TRACE_ID%"},
      {"downstream_address", "%DOWNSTREAM_REMOTE_ADDRESS%"},
  };
  return kFields;
}

void ApplyHttpPolicy(const HttpPolicy& policy, HttpConnectionManager* hcm) {
  hcm->mutable_generate_request_id()->set_value(policy.request_id.generate);
  hcm->set_preserve_external_request_id(policy.request_id.preserve_external);
  hcm->set_always_set_request_id_in_response(policy.request_id.always_in_response);
  if (policy.tracing) ApplyTracing(*policy.tracing, policy.gateway, hcm);
  if (policy.access_logs) {
    for (size_t i = 0; i < policy.access_logs->size(); ++i) {
      BuildAccessLog((*policy.access_logs)[i], i, /*http=*/true, hcm->add_access_log());
    }
  }
}

bool HasRateLimits(const model::Listener& listener) {
  if (listener.rate_limit) return true;
  for (const auto& vh : listener.virtual_hosts) {
    if (vh.rate_limit) return true;
    for (const auto& r : vh.routes) {
      if (r.rate_limit) return true;
    }
  }
  return false;
}

void AddLocalRateLimitFilter(const model::Listener& listener, HttpConnectionManager* hcm) {
  auto* f = hcm->add_http_filters();
  f->set_name(kLocalRateLimitFilterName);
  f->mutable_typed_config()->PackFrom(
      MakeLimit(listener.name, listener.rate_limit ? &*listener.rate_limit : nullptr));
}

void SetRateLimitOverride(const model::RateLimit& limit, const std::string& stat_prefix,
                          google::protobuf::Map<std::string, google::protobuf::Any>* per_filter) {
  (*per_filter)[kLocalRateLimitFilterName].PackFrom(MakeLimit(stat_prefix, &limit));
}

}  // namespace tern::translate
