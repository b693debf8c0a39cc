// tern-fake-nomad: a faithful in-memory fake of Nomad's native service discovery HTTP API, written
// from Nomad's documentation (https://developer.hashicorp.com/nomad/api-docs/services and
// .../api-docs#blocking-queries), for tests that need Nomad without a Nomad binary.
//
// Nomad's side, as documented:
//   GET    /v1/services[?namespace=NS|*]        [{"Namespace", "Services": [{"ServiceName", "Tags"}]}]
//   GET    /v1/service/:name[?namespace=NS|*]   [{"ID", "ServiceName", "Namespace", "NodeID",
//                                                 "Datacenter", "JobID", "AllocID", "Tags",
//                                                 "Address", "Port", "CreateIndex", "ModifyIndex"}]
//   DELETE /v1/service/:name/:id                 deletes one registration
// Both reads are blocking queries: with `index=N` the request is held until the state's index is
// above N or `wait` (Go duration, default 5m, at most 10m, plus up to wait/16 of jitter) passes;
// every answer carries X-Nomad-Index (never below 1), X-Nomad-KnownLeader and X-Nomad-LastContact.
// The index is one global raft-like counter that increases on every change. `namespace` defaults
// to "default"; "*" means every namespace. `region` is accepted (one region here). Started with
// `--token T`, every /v1 request must carry `X-Nomad-Token: T` (or `Authorization: Bearer T`):
// none → 403 "Permission denied", another → 403 "ACL token not found".
//
// The test side (not Nomad's):
//   PUT    /test/register          body: one registration as Nomad shows it (ID, ServiceName and
//                                  Port required; Namespace defaults to "default"); replaces one
//                                  with the same ID; answers {"Index": N}
//   DELETE /test/deregister/:id    404 when unknown
//   PUT    /test/fault?mode=500|500-binary|garbage|none   every /v1 read then answers HTTP 500,
//                                  or HTTP 500 whose body is not UTF-8 (what a proxy in front of
//                                  Nomad may send), or 200 with malformed JSON, or normally
//                                  again; held blocking queries are
//                                  woken so that they answer with the fault at once
//   GET    /test/stats             {"requests": /v1 requests so far, "index": N, "fault": mode}
//
// Flags: --port N (0 = pick one; printed as PORT=<n>), --token T. Prints READY when listening.
#include <civetweb.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::optional<uint64_t> index;
};

class FakeNomad {
 public:
  explicit FakeNomad(std::string token) : token_(std::move(token)) {}

  Reply Handle(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    const std::string method = info->request_method ? info->request_method : "";
    const std::string uri = info->local_uri ? info->local_uri : "";
    const std::string query = info->query_string ? info->query_string : "";
    if (uri.rfind("/test/", 0) == 0) return Control(conn, method, uri, query);
    if (uri.rfind("/v1/", 0) != 0) return Text(404, "Invalid URL");
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_++;
    }
    if (!token_.empty()) {
      std::string given;
      if (const char* h = mg_get_header(conn, "X-Nomad-Token")) given = h;
      else if (const char* a = mg_get_header(conn, "Authorization"); a && std::strncmp(a, "Bearer ", 7) == 0) given = a + 7;
      if (given.empty()) return Text(403, "Permission denied");
      if (given != token_) return Text(403, "ACL token not found");
    }
    std::string ns = Var(query, "namespace");
    if (ns.empty()) ns = "default";
    if (method == "GET" && uri == "/v1/services") return Blocking(query, [&] { return ListServices(ns); });
    const std::string prefix = "/v1/service/";
    if (uri.rfind(prefix, 0) == 0) {
      std::string rest = uri.substr(prefix.size());
      auto slash = rest.find('/');
      if (method == "GET" && slash == std::string::npos && !rest.empty()) {
        return Blocking(query, [&] { return ReadService(ns, rest); });
      }
      if (method == "DELETE" && slash != std::string::npos) {
        return DeleteRegistration(ns, rest.substr(0, slash), rest.substr(slash + 1));
      }
      if (method != "GET" && method != "DELETE") return Text(405, "Invalid method");
    }
    return Text(404, "Invalid URL");
  }

  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    changed_.notify_all();
  }

 private:
  static Reply Text(int status, std::string body) { return {status, std::move(body), "text/plain", std::nullopt}; }

  static std::string Var(const std::string& query, const char* name) {
    if (query.empty()) return "";
    std::string buf(query.size() + 1, '\0');
    int n = mg_get_var(query.c_str(), query.size(), name, buf.data(), buf.size());
    return n < 0 ? "" : buf.substr(0, static_cast<size_t>(n));
  }

  // A Go duration ("300ms", "1m30s", "60000ms"); nullopt when malformed.
  static std::optional<std::chrono::milliseconds> ParseDuration(const std::string& s) {
    if (s.empty()) return std::nullopt;
    double total_ms = 0;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
      if (start == i) return std::nullopt;
      double v = std::stod(s.substr(start, i - start));
      size_t ustart = i;
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
      std::string unit = s.substr(ustart, i - ustart);
      if (unit == "ns") total_ms += v / 1e6;
      else if (unit == "us" || unit == "µs") total_ms += v / 1e3;
      else if (unit == "ms") total_ms += v;
      else if (unit == "s") total_ms += v * 1e3;
      else if (unit == "m") total_ms += v * 60e3;
      else if (unit == "h") total_ms += v * 3600e3;
      else return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
  }

  // Runs `read` now, or (with index=N) once the state's index is above N or the wait is over.
  template <typename Read>
  Reply Blocking(const std::string& query, Read read) {
    uint64_t min_index = 0;
    std::string index_text = Var(query, "index");
    if (!index_text.empty()) {
      try {
        min_index = std::stoull(index_text);
      } catch (...) {
        return Text(400, "Invalid index: " + index_text);
      }
    }
    auto wait = std::chrono::milliseconds(std::chrono::minutes(5));
    if (std::string w = Var(query, "wait"); !w.empty()) {
      auto d = ParseDuration(w);
      if (!d) return Text(400, "Invalid wait time");
      wait = *d;
    }
    wait = std::min<std::chrono::milliseconds>(wait, std::chrono::minutes(10));
    std::unique_lock<std::mutex> lock(mu_);
    if (min_index > 0) {
      // Nomad adds up to wait/16 of jitter so that many watchers do not wake together.
      auto jitter = std::chrono::milliseconds(wait.count() / 16 > 0 ? rng_() % (wait.count() / 16) : 0);
      const auto deadline = Clock::now() + wait + jitter;
      const std::string fault_at_start = fault_;
      changed_.wait_until(lock, deadline, [&] {
        return stopping_ || index_ > min_index || fault_ != fault_at_start;
      });
    }
    if (fault_ == "500") return Text(500, "rpc error: fault injected by tern-fake-nomad");
    if (fault_ == "500-binary") {
      // Latin-1 and stray bytes, then a long enough run that byte 200 (where a client quoting
      // the body would cut it) falls inside a three-byte character (U+20AC, the euro sign).
      std::string body = "proxy error: caf\xE9 \xFF\xFE\x80 upstream \xC3 unreachable ";
      while (body.size() < 199) body += 'x';
      body += "\xE2\x82\xAC tail";
      return Text(500, body);
    }
    if (fault_ == "garbage") return {200, "[{\"Namespace\": \"default\", \"Services\": [{\"ServiceName\": ", "application/json", index_};
    Reply r;
    r.body = read().dump();
    r.index = std::max<uint64_t>(index_, 1);
    return r;
  }

  bool InNamespace(const json& reg, const std::string& ns) const {
    return ns == "*" || reg.value("Namespace", "default") == ns;
  }

  json ListServices(const std::string& ns) {
    // namespace → service → tags (the union over its registrations)
    std::map<std::string, std::map<std::string, std::set<std::string>>> by_ns;
    for (const auto& [id, reg] : regs_) {
      if (!InNamespace(reg, ns)) continue;
      auto& tags = by_ns[reg["Namespace"].get<std::string>()][reg["ServiceName"].get<std::string>()];
      for (const auto& t : reg["Tags"]) tags.insert(t.get<std::string>());
    }
    json out = json::array();
    for (const auto& [name, services] : by_ns) {
      json entry = {{"Namespace", name}, {"Services", json::array()}};
      for (const auto& [service, tags] : services) {
        entry["Services"].push_back({{"ServiceName", service}, {"Tags", json(std::vector<std::string>(tags.begin(), tags.end()))}});
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  json ReadService(const std::string& ns, const std::string& name) {
    json out = json::array();
    for (const auto& [id, reg] : regs_) {
      if (InNamespace(reg, ns) && reg["ServiceName"] == name) out.push_back(reg);
    }
    return out;
  }

  Reply DeleteRegistration(const std::string& ns, const std::string& name, const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = regs_.find(id);
    if (it == regs_.end() || it->second["ServiceName"] != name || !InNamespace(it->second, ns)) {
      return Text(404, "service registration not found");
    }
    regs_.erase(it);
    Bump();
    return {200, json{{"Index", index_}}.dump(), "application/json", index_};
  }

  void Bump() {
    index_++;
    changed_.notify_all();
  }

  Reply Control(mg_connection* conn, const std::string& method, const std::string& uri, const std::string& query) {
    if ((method == "PUT" || method == "POST") && uri == "/test/register") {
      std::string body;
      char buf[4096];
      int n;
      while ((n = mg_read(conn, buf, sizeof buf)) > 0) body.append(buf, static_cast<size_t>(n));
      json reg = json::parse(body, nullptr, false);
      if (reg.is_discarded() || !reg.is_object()) return Text(400, "registration: malformed JSON");
      if (!reg.contains("ID") || !reg["ID"].is_string() || !reg.contains("ServiceName") ||
          !reg["ServiceName"].is_string() || !reg.contains("Port") || !reg["Port"].is_number_integer()) {
        return Text(400, "registration: ID, ServiceName and Port are required");
      }
      // The fields Nomad always sends, with its defaults.
      if (!reg.contains("Namespace") || reg["Namespace"] == "") reg["Namespace"] = "default";
      for (const char* k : {"NodeID", "Datacenter", "JobID", "AllocID", "Address"}) {
        if (!reg.contains(k)) reg[k] = k == std::string("Datacenter") ? "dc1" : (k == std::string("Address") ? "127.0.0.1" : "");
      }
      if (!reg.contains("Tags") || reg["Tags"].is_null()) reg["Tags"] = json::array();
      std::lock_guard<std::mutex> lock(mu_);
      Bump();
      const std::string id = reg["ID"];
      auto it = regs_.find(id);
      reg["CreateIndex"] = it == regs_.end() ? index_ : it->second["CreateIndex"].get<uint64_t>();
      reg["ModifyIndex"] = index_;
      regs_[id] = reg;
      return {200, json{{"Index", index_}}.dump(), "application/json", index_};
    }
    const std::string dereg = "/test/deregister/";
    if (method == "DELETE" && uri.rfind(dereg, 0) == 0) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = regs_.find(uri.substr(dereg.size()));
      if (it == regs_.end()) return Text(404, "no such registration");
      regs_.erase(it);
      Bump();
      return {200, json{{"Index", index_}}.dump(), "application/json", index_};
    }
    if ((method == "PUT" || method == "POST") && uri == "/test/fault") {
      std::string mode = Var(query, "mode");
      if (mode != "500" && mode != "500-binary" && mode != "garbage" && mode != "none")
        return Text(400, "mode must be 500, 500-binary, garbage or none");
      std::lock_guard<std::mutex> lock(mu_);
      fault_ = mode == "none" ? "" : mode;
      changed_.notify_all();
      return {200, json{{"fault", mode}}.dump(), "application/json", std::nullopt};
    }
    if (method == "GET" && uri == "/test/stats") {
      std::lock_guard<std::mutex> lock(mu_);
      json s = {{"requests", requests_}, {"index", index_}, {"fault", fault_.empty() ? "none" : fault_},
                {"registrations", regs_.size()}};
      return {200, s.dump(), "application/json", std::nullopt};
    }
    return Text(404, "unknown test endpoint");
  }

  const std::string token_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, json> regs_;  // by registration ID
  uint64_t index_ = 1;
  uint64_t requests_ = 0;
  std::string fault_;  // "", "500", "garbage"
  bool stopping_ = false;
  std::mt19937_64 rng_{42};
};

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Internal Server Error";
  }
}

int HandleRequest(mg_connection* conn, void* cbdata) {
  Reply r = static_cast<FakeNomad*>(cbdata)->Handle(conn);
  std::string headers = "HTTP/1.1 " + std::to_string(r.status) + " " + StatusText(r.status) + "\r\n" +
                        "Content-Type: " + r.content_type + "\r\n" +
                        "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.index) {
    headers += "X-Nomad-Index: " + std::to_string(*r.index) + "\r\n";
    headers += "X-Nomad-KnownLeader: true\r\nX-Nomad-LastContact: 0\r\n";
  }
  headers += "Connection: close\r\n\r\n";
  mg_write(conn, headers.data(), headers.size());
  mg_write(conn, r.body.data(), r.body.size());
  return static_cast<int>(r.status);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string token;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) port = std::stoi(argv[++i]);
    else if (a == "--token" && i + 1 < argc) token = argv[++i];
    else {
      std::cerr << "usage: tern-fake-nomad [--port N] [--token T]\n";
      return 2;
    }
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  FakeNomad nomad(token);
  mg_init_library(0);
  std::string ports = "127.0.0.1:" + std::to_string(port);
  // Every held blocking query holds a worker thread, as in Nomad's HTTP server a goroutine.
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "128", nullptr};
  mg_callbacks callbacks{};
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) {
    std::cerr << "tern-fake-nomad: cannot listen on " << ports << "\n";
    return 1;
  }
  mg_set_request_handler(ctx, "/", HandleRequest, &nomad);
  mg_server_port sp[4];
  if (mg_get_server_ports(ctx, 4, sp) < 1) {
    std::cerr << "tern-fake-nomad: civetweb reported no listening port\n";
    return 1;
  }
  std::cout << "PORT=" << sp[0].port << std::endl;
  std::cout << "READY" << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  nomad.Shutdown();
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
