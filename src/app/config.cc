#include "app/config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sources/file/yaml_reader.h"

namespace tern::app {
namespace {

namespace fs = std::filesystem;
using sources::file::MapReader;
using sources::file::YamlContext;

class ConfigParser {
 public:
  ConfigParser(YamlContext& ctx, std::string base_dir) : ctx_(ctx), base_dir_(std::move(base_dir)) {}

  void Parse(const YAML::Node& root, Config& c) {
    MapReader top(ctx_, root, "");
    if (!top.valid()) return;
    if (top.Has("xds")) Xds(top.Get("xds"), c.xds);
    if (top.Has("admin")) {
      MapReader m(ctx_, top.Get("admin"), "admin");
      ListenAddress(m, c.admin.address);
      c.admin.token_file = OptionalPath(m, "token_file");
      m.Finish();
    }
    if (top.Has("consul")) c.consul = Consul(top.Get("consul"));
    if (top.Has("nomad")) c.nomad = Nomad(top.Get("nomad"));
    if (auto files = top.StringList("files")) {
      std::set<std::string> seen;
      for (size_t i = 0; i < files->size(); ++i) {
        const std::string& f = (*files)[i];
        if (f.empty()) {
          top.Error("files", "file " + std::to_string(i) + " is an empty path");
          continue;
        }
        std::string resolved = Resolve(f);
        if (!seen.insert(resolved).second) {
          top.Error("files", "'" + f + "' is listed twice");
          continue;
        }
        c.files.push_back(std::move(resolved));
      }
    }
    if (top.Has("audit")) {
      MapReader m(ctx_, top.Get("audit"), "audit");
      AuditConfig a;
      a.path = Resolve(m.String("path").value_or("audit.jsonl"));
      if (auto b = m.Uint("max_file_bytes", 1024, 4294967295u)) a.max_file_bytes = *b;
      a.signing_key_file = OptionalPath(m, "signing_key_file");
      if (auto n = m.Uint("checkpoint_every", 1, 1000000)) {
        a.checkpoint_every = *n;
        if (a.signing_key_file.empty()) m.Error("checkpoint_every", "needs signing_key_file");
      }
      const std::vector<std::string> copies = {"stdout", "syslog"};
      if (auto c = m.Enum("copy_to", copies)) a.copy_to = copies[*c];
      const std::vector<std::string> modes = {"fail-closed", "fail-open"};
      if (auto f = m.Enum("on_failure", modes)) a.fail_closed = *f == 0;
      if (auto p = m.Bool("proxy_events")) a.proxy_events = *p;
      m.Finish();
      c.audit = a;
    }
    if (top.Has("log")) {
      MapReader m(ctx_, top.Get("log"), "log");
      const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error"};
      if (auto l = m.Enum("level", levels)) c.log.level = levels[*l];
      m.Finish();
    }
    top.Finish();
  }

 private:
  // Relative paths mean "next to tern.yaml", so a config directory can be moved as a whole.
  std::string Resolve(const std::string& p) const {
    fs::path path(p);
    if (path.is_absolute()) return path.lexically_normal().string();
    fs::path base = base_dir_.empty() ? fs::current_path() : fs::path(base_dir_);
    return (base / path).lexically_normal().string();
  }

  std::string OptionalPath(MapReader& m, const std::string& key) {
    auto v = m.String(key);
    if (!v || v->empty()) return "";
    return Resolve(*v);
  }

  // host:port; port 0 lets the kernel pick (tests).
  void ListenAddress(MapReader& m, std::string& out) {
    auto a = m.String("address");
    if (!a) return;
    const size_t colon = a->rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < a->size();
    if (ok) {
      const std::string port = a->substr(colon + 1);
      ok = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
           std::stoul(port) <= 65535;
    }
    if (!ok) {
      m.Error("address", "'" + *a + "' is not host:port (e.g. 127.0.0.1:18000)");
      return;
    }
    out = *a;
  }

  // Consul and Nomad addresses are URLs; a bare host:port (as CONSUL_HTTP_ADDR allows) means http.
  void HttpAddress(MapReader& m, std::string& out) {
    auto a = m.String("address");
    if (!a) return;
    std::string url = *a;
    if (url.find("://") == std::string::npos) url = "http://" + url;
    const bool http = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    if (!http || url.size() <= url.find("://") + 3) {
      m.Error("address", "'" + *a + "' is not an http:// or https:// address");
      return;
    }
    while (url.size() > 8 && url.back() == '/') url.pop_back();
    out = url;
  }

  void Xds(const YAML::Node& node, XdsConfig& x) {
    MapReader m(ctx_, node, "xds");
    ListenAddress(m, x.address);
    if (m.Has("tls")) {
      MapReader t(ctx_, m.Get("tls"), "xds.tls");
      XdsTls tls;
      if (t.String("cert_file", true)) tls.cert_file = OptionalPath(t, "cert_file");
      if (t.String("key_file", true)) tls.key_file = OptionalPath(t, "key_file");
      tls.ca_file = OptionalPath(t, "ca_file");
      if (auto r = t.Bool("require_client_cert")) tls.require_client_cert = *r;
      if (auto id = t.String("client_identity")) tls.client_identity = *id;
      if (tls.require_client_cert && tls.ca_file.empty() && t.valid()) {
        t.Error("require_client_cert", "needs ca_file to verify client certificates against");
      }
      t.Finish();
      x.tls = tls;
    }
    m.Finish();
  }

  void Token(MapReader& m, std::string& file, std::string& env) {
    file = OptionalPath(m, "token_file");
    env = m.String("token_env").value_or("");
    if (!file.empty() && !env.empty()) {
      m.Error("token_env", "give either token_file or token_env, not both");
    }
  }

  ConsulConfig Consul(const YAML::Node& node) {
    MapReader m(ctx_, node, "consul");
    ConsulConfig c;
    HttpAddress(m, c.address);
    c.datacenter = m.String("datacenter").value_or("");
    Token(m, c.token_file, c.token_env);
    const std::vector<std::string> modes = {"default", "stale", "consistent"};
    if (auto mode = m.Enum("consistency", modes)) c.consistency = modes[*mode];
    const std::vector<std::string> watch_modes = {"auto", "per-service", "aggregate"};
    if (auto mode = m.Enum("watch", watch_modes)) c.watch = watch_modes[*mode];
    if (auto sweep = m.Uint("sweep_seconds", 1, 86400)) c.sweep_seconds = *sweep;
    if (m.Has("tls")) c.tls = RemoteTls(m, "consul.tls");
    if (m.Has("fabio_gateway")) {
      // One name or a list of names.
      const YAML::Node n = m.Get("fabio_gateway");
      std::optional<std::vector<std::string>> names;
      if (n.IsSequence()) names = m.StringList("fabio_gateway");
      else if (auto one = m.String("fabio_gateway")) names = std::vector<std::string>{*one};
      std::set<std::string> seen;
      for (const auto& name : names.value_or(std::vector<std::string>{})) {
        if (name.empty()) m.Error("fabio_gateway", "a gateway name cannot be empty");
        else if (!seen.insert(name).second) m.Error("fabio_gateway", "'" + name + "' is listed twice");
        else c.fabio_gateways.push_back(name);
      }
    }
    if (auto port = m.Uint("fabio_port", 1, 65535)) {
      c.fabio_port = *port;
      if (c.fabio_gateways.empty()) m.Error("fabio_port", "needs fabio_gateway");
    }
    c.canary_tag = m.String("canary_tag").value_or("");
    if (auto w = m.Uint("canary_weight", 0, 100)) {
      c.canary_weight = *w;
      if (c.canary_tag.empty()) m.Error("canary_weight", "needs canary_tag");
    }
    m.Finish();
    return c;
  }

  // consul.tls, nomad.tls: TLS to the remote's HTTP API.
  ConsulTls RemoteTls(MapReader& m, const std::string& where) {
    MapReader t(ctx_, m.Get("tls"), where);
    ConsulTls tls;
    tls.ca_file = OptionalPath(t, "ca_file");
    tls.cert_file = OptionalPath(t, "cert_file");
    tls.key_file = OptionalPath(t, "key_file");
    tls.server_name = t.String("server_name").value_or("");
    if (tls.cert_file.empty() != tls.key_file.empty() && t.valid()) {
      t.Error(tls.cert_file.empty() ? "cert_file" : "key_file", "a client certificate needs both cert_file and key_file");
    }
    t.Finish();
    return tls;
  }

  NomadConfig Nomad(const YAML::Node& node) {
    MapReader m(ctx_, node, "nomad");
    NomadConfig n;
    HttpAddress(m, n.address);
    Token(m, n.token_file, n.token_env);
    n.namespace_name = m.String("namespace").value_or("");
    n.region = m.String("region").value_or("");
    n.canary_tag = m.String("canary_tag").value_or("");
    // Also the deployment canaries' default share: meaningful without canary_tag.
    if (auto w = m.Uint("canary_weight", 0, 100)) n.canary_weight = *w;
    if (m.Has("tls")) n.tls = RemoteTls(m, "nomad.tls");
    if (auto stream = m.Bool("event_stream")) n.event_stream = *stream;
    m.Finish();
    return n;
  }

  YamlContext& ctx_;
  std::string base_dir_;
};

}  // namespace

Config DefaultConfig() { return Config{}; }

absl::StatusOr<Config> ParseConfig(const std::string& text, const std::string& label,
                                   const std::string& base_dir) {
  std::vector<model::Problem> problems;
  YamlContext ctx(label, &problems);
  Config config;
  if (auto root = sources::file::ParseYaml(text, ctx)) ConfigParser(ctx, base_dir).Parse(*root, config);
  if (problems.empty()) return config;
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p.ToString();
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError("cannot read config file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError("cannot read config file " + path);
  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(path), ec);
  const std::string base = ec ? "" : absolute.parent_path().string();
  return ParseConfig(text.str(), path, base);
}

}  // namespace tern::app
