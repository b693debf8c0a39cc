#include "sources/file/policy_yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace tern::sources::file {
namespace {

// A percentage 0..100 (decimals allowed) under `key`; nullopt when absent or wrong (reported).
std::optional<double> Percent(MapReader& m, const std::string& key) {
  YAML::Node v = m.Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (!v.IsScalar()) {
    m.Error(key, "expected a percentage between 0 and 100");
    return std::nullopt;
  }
  const std::string text = v.Scalar();
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(d)) {
    m.Error(key, "'" + text + "' is not a number");
    return std::nullopt;
  }
  if (d < 0 || d > 100) {
    m.Error(key, text + " is out of range 0..100 (a percentage)");
    return std::nullopt;
  }
  return d;
}

}  // namespace

std::optional<model::Tracing> ReadTracing(YamlContext& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(ctx, node, path);
  if (!m.valid()) return std::nullopt;
  const size_t errors = ctx.error_count();
  model::Tracing t;
  t.origin = ctx.Origin(node, path);
  if (auto p = m.Enum("provider", {"opentelemetry", "zipkin"})) {
    t.provider = *p == 0 ? model::Tracing::Provider::kOpenTelemetry : model::Tracing::Provider::kZipkin;
  } else if (!m.Has("provider")) {
    m.Error("provider", "is required (opentelemetry or zipkin)");
  }
  if (auto c = m.String("collector", /*required=*/true)) t.collector_cluster = *c;
  if (auto e = m.String("zipkin_endpoint")) {
    if (t.provider != model::Tracing::Provider::kZipkin) m.Error("zipkin_endpoint", "applies to provider zipkin only");
    if (e->empty() || (*e)[0] != '/') m.Error("zipkin_endpoint", "must be a path starting with '/'");
    t.zipkin_endpoint = *e;
  }
  if (auto s = m.String("service_name")) {
    if (t.provider == model::Tracing::Provider::kZipkin) {
      m.Error("service_name", "applies to opentelemetry only (Zipkin spans carry the gateway's name, its node.cluster)");
    }
    t.service_name = *s;
  }
  if (auto p = Percent(m, "random_sampling")) t.random_sampling = *p;
  if (auto p = Percent(m, "client_sampling")) t.client_sampling = *p;
  if (auto p = Percent(m, "overall_sampling")) t.overall_sampling = *p;
  YAML::Node tags = m.Get("tags");
  if (tags.IsDefined() && IsSequence(ctx, tags, m.PathOf("tags"))) {
    size_t i = 0;
    for (const auto& tag_node : tags) {
      const std::string tp = IndexPath(m.PathOf("tags"), i++);
      MapReader tm(ctx, tag_node, tp);
      if (!tm.valid()) continue;
      model::Tracing::Tag tag;
      if (auto n = tm.String("tag", true)) tag.name = *n;
      const int kinds = tm.Has("literal") + tm.Has("request_header") + tm.Has("environment");
      if (kinds != 1) tm.Error("tag", "a tag takes exactly one of literal, request_header, environment");
      if (auto v = tm.String("literal")) {
        if (v->empty()) tm.Error("literal", "must not be empty");
        tag.value = *v;
      }
      if (auto v = tm.String("request_header")) {
        tag.kind = model::Tracing::Tag::Kind::kRequestHeader;
        if (v->empty()) tm.Error("request_header", "must not be empty");
        tag.value = *v;
      }
      if (auto v = tm.String("environment")) {
        tag.kind = model::Tracing::Tag::Kind::kEnvironment;
        if (v->empty()) tm.Error("environment", "must not be empty");
        tag.value = *v;
      }
      if (auto d = tm.String("default")) {
        if (tag.kind == model::Tracing::Tag::Kind::kLiteral) tm.Error("default", "does not apply to a literal tag");
        tag.default_value = *d;
      }
      tm.Finish();
      t.tags.push_back(std::move(tag));
    }
  }
  m.Finish();
  if (ctx.error_count() != errors) return std::nullopt;
  return t;
}

std::optional<std::vector<model::AccessLog>> ReadAccessLogs(YamlContext& ctx, const YAML::Node& node,
                                                            const std::string& path) {
  if (!IsSequence(ctx, node, path)) return std::nullopt;
  const size_t errors = ctx.error_count();
  std::vector<model::AccessLog> out;
  size_t i = 0;
  for (const auto& entry : node) {
    const std::string lp = IndexPath(path, i++);
    MapReader m(ctx, entry, lp);
    if (!m.valid()) continue;
    model::AccessLog log;
    log.origin = ctx.Origin(entry, lp);
    using Sink = model::AccessLog::Sink;
    if (auto s = m.Enum("type", {"file", "stdout", "stderr", "grpc"})) {
      log.sink = static_cast<Sink>(*s);
    } else if (!m.Has("type")) {
      m.Error("type", "is required (file, stdout, stderr or grpc)");
    }
    if (auto p = m.String("path")) {
      if (log.sink != Sink::kFile) m.Error("path", "applies to type file only");
      log.path = *p;
    }
    if (log.sink == Sink::kFile && log.path.empty()) m.Error("path", "type file needs a path (or use type stdout)");
    if (auto c = m.String("service")) {
      if (log.sink != Sink::kGrpc) m.Error("service", "applies to type grpc only");
      log.grpc_cluster = *c;
    }
    if (log.sink == Sink::kGrpc && log.grpc_cluster.empty()) m.Error("service", "type grpc needs the access-log service");
    if (auto n = m.String("log_name")) log.grpc_log_name = *n;
    if (log.sink == Sink::kGrpc && log.grpc_log_name.empty()) log.grpc_log_name = "tern";
    if (m.Has("json_format")) {
      MapReader jm(ctx, m.Get("json_format"), m.PathOf("json_format"));
      if (jm.valid()) {
        for (const auto& key : jm.Keys()) {
          if (auto v = jm.String(key)) log.json_format[key] = *v;
        }
        if (log.json_format.empty()) m.Error("json_format", "needs at least one field");
        jm.Finish();
      }
    }
    if (auto t = m.String("text_format")) {
      if (m.Has("json_format")) m.Error("text_format", "takes only one of json_format, text_format");
      if (t->empty()) m.Error("text_format", "must not be empty");
      log.text_format = *t;
    }
    if (log.sink == Sink::kGrpc && (m.Has("json_format") || m.Has("text_format"))) {
      m.Error("type", "a grpc access log sends every field; json_format and text_format do not apply");
    }
    YAML::Node codes = m.Get("status_codes");
    if (codes.IsDefined() && IsSequence(ctx, codes, m.PathOf("status_codes"))) {
      size_t r = 0;
      for (const auto& range_node : codes) {
        const std::string rp = IndexPath(m.PathOf("status_codes"), r++);
        MapReader rm(ctx, range_node, rp);
        if (!rm.valid()) continue;
        model::AccessLog::StatusRange range;
        if (auto v = rm.Uint("min", 100, 599)) range.min = *v;
        if (auto v = rm.Uint("max", 100, 599)) range.max = *v;
        if (!rm.Has("min") && !rm.Has("max")) rm.Error("min", "a range needs min, max or both");
        if (range.min > range.max) rm.Error("max", "is below min");
        rm.Finish();
        log.status_ranges.push_back(range);
      }
    }
    if (auto p = Percent(m, "sample_percent")) log.sample_percent = *p;
    if (auto b = m.Bool("listener")) log.listener = *b;
    m.Finish();
    out.push_back(std::move(log));
  }
  if (ctx.error_count() != errors) return std::nullopt;
  return out;
}

std::optional<model::RequestId> ReadRequestId(YamlContext& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(ctx, node, path);
  if (!m.valid()) return std::nullopt;
  model::RequestId r;
  if (auto b = m.Bool("generate")) r.generate = *b;
  if (auto b = m.Bool("preserve_external")) r.preserve_external = *b;
  if (auto b = m.Bool("always_in_response")) r.always_in_response = *b;
  m.Finish();
  return r;
}

std::optional<model::RateLimit> ReadRateLimit(YamlContext& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(ctx, node, path);
  if (!m.valid()) return std::nullopt;
  const size_t errors = ctx.error_count();
  model::RateLimit r;
  r.origin = ctx.Origin(node, path);
  // requests_per_unit + unit is the short form; max_tokens/tokens_per_fill/fill_interval Envoy's own.
  if (auto v = m.Uint("requests_per_second", 1, 1000000000)) {
    r.max_tokens = *v;
    r.tokens_per_fill = *v;
    r.fill_interval = std::chrono::milliseconds(1000);
  }
  if (auto v = m.Uint("burst", 1, 1000000000)) r.max_tokens = *v;
  if (auto v = m.Uint("max_tokens", 1, 1000000000)) r.max_tokens = *v;
  if (auto v = m.Uint("tokens_per_fill", 1, 1000000000)) r.tokens_per_fill = *v;
  if (auto d = m.Duration("fill_interval", /*allow_zero=*/false)) {
    if (d->count() < 50) m.Error("fill_interval", "must be at least 50ms (Envoy's minimum)");
    r.fill_interval = *d;
  }
  if (m.Has("requests_per_second") && (m.Has("tokens_per_fill") || m.Has("fill_interval"))) {
    m.Error("requests_per_second", "takes no tokens_per_fill or fill_interval (they are what it sets)");
  }
  if (r.max_tokens == 0) m.Error("max_tokens", "a rate limit needs requests_per_second or max_tokens");
  if (r.tokens_per_fill == 0 && r.max_tokens != 0) r.tokens_per_fill = r.max_tokens;
  if (auto s = m.Uint("status", 400, 599)) r.status = *s;
  if (auto b = m.Bool("response_headers")) r.response_headers = *b;
  m.Finish();
  if (ctx.error_count() != errors) return std::nullopt;
  return r;
}

}  // namespace tern::sources::file
