#pragma once
// A real Consul for integration tests: `consul agent -dev` on free loopback ports (every port:
// HTTP, Serf LAN/WAN, server RPC; DNS and gRPC off), stopped by PID. Plus the few HTTP calls a
// test makes to it (register, check pass/fail, config entries), through libcurl.
#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include "absl/status/statusor.h"
#include "support/process.h"

namespace tern::testing {

inline std::string ConsulBinaryPath() {
  if (const char* env = std::getenv("TERN_CONSUL_BIN"); env && *env) return env;
  return std::string(TERN_BINARY_DIR) + "/third_party/consul/usr/bin/consul";
}

struct ConsulReply {
  long status = 0;
  std::string body;
};

// One HTTP request to 127.0.0.1:port; a transport failure is an error.
inline absl::StatusOr<ConsulReply> ConsulRequest(int port, const std::string& method, const std::string& path,
                                                 const std::string& body = "") {
  CURL* easy = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  ConsulReply reply;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  if (method == "PUT" || method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    static_cast<std::string*>(u)->append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &reply.body);
  CURLcode code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) return absl::UnavailableError(method + " " + url + ": " + curl_easy_strerror(code));
  return reply;
}

class ConsulAgent {
 public:
  // Starts a dev agent; `http_port` 0 picks a free one (pass the old port to restart "in place").
  static absl::StatusOr<std::unique_ptr<ConsulAgent>> Start(const std::string& log_dir, int http_port = 0) {
    auto agent = std::unique_ptr<ConsulAgent>(new ConsulAgent());
    agent->http_port_ = http_port ? http_port : FreePort();
    static int runs = 0;
    SubprocessOptions o;
    o.argv = {ConsulBinaryPath(), "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
              "-http-port", std::to_string(agent->http_port_), "-dns-port", "-1",
              "-serf-lan-port", std::to_string(FreePort()), "-serf-wan-port", std::to_string(FreePort()),
              "-server-port", std::to_string(FreePort()), "-grpc-port", "-1"};
    o.log_path = log_dir + "/consul-" + std::to_string(::getpid()) + "-" + std::to_string(runs++) + ".log";
    auto p = Subprocess::Start(o);
    if (!p.ok()) return p.status();
    agent->process_ = std::move(*p);
    // Ready = a leader is elected (config entries need one) and the catalog answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ConsulRequest(agent->http_port_, "GET", "/v1/status/leader");
      if (r.ok() && r->status == 200 && r->body.size() > 4) {
        auto c = ConsulRequest(agent->http_port_, "GET", "/v1/catalog/services");
        if (c.ok() && c->status == 200) return agent;
      }
      if (!agent->process_->Running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return absl::DeadlineExceededError("consul did not become ready:\n" + agent->process_->LogTail());
  }

  int http_port() const { return http_port_; }
  std::string address() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  Subprocess& process() { return *process_; }
  void Kill() { process_->Kill(std::chrono::milliseconds(2000)); }

  // Each returns an error unless Consul answered 200.
  absl::Status Call(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = ConsulRequest(http_port_, method, path, body);
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::InternalError(method + " " + path + ": HTTP " + std::to_string(r->status) + ": " + r->body);
    }
    return absl::OkStatus();
  }
  absl::Status PutConfig(const std::string& entry_json) { return Call("PUT", "/v1/config", entry_json); }
  absl::Status DeleteConfig(const std::string& kind, const std::string& name) {
    return Call("DELETE", "/v1/config/" + kind + "/" + name);
  }
  // A service instance with a TTL check (passing until failed through FailCheck).
  absl::Status Register(const std::string& service, const std::string& id, int port, const std::string& meta_json = "{}",
                        int weight_passing = 1) {
    return Call("PUT", "/v1/agent/service/register",
                "{\"Name\":\"" + service + "\",\"ID\":\"" + id + "\",\"Address\":\"127.0.0.1\",\"Port\":" +
                    std::to_string(port) + ",\"Meta\":" + meta_json + ",\"Weights\":{\"Passing\":" +
                    std::to_string(weight_passing) + ",\"Warning\":1},\"Check\":{\"CheckID\":\"" + id +
                    "-ttl\",\"TTL\":\"600s\",\"Status\":\"passing\"}}");
  }
  absl::Status Deregister(const std::string& id) { return Call("PUT", "/v1/agent/service/deregister/" + id); }
  absl::Status PassCheck(const std::string& id) { return Call("PUT", "/v1/agent/check/pass/" + id + "-ttl"); }
  absl::Status FailCheck(const std::string& id) { return Call("PUT", "/v1/agent/check/fail/" + id + "-ttl"); }

 private:
  ConsulAgent() = default;
  int http_port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace tern::testing
