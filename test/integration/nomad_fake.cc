#include "integration/nomad_fake.h"

#include <curl/curl.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tern::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

absl::StatusOr<NomadHttpResult> NomadRequest(const std::string& method, const std::string& url,
                                             const std::string& body, const std::string& token) {
  CURL* easy = curl_easy_init();
  NomadHttpResult r;
  curl_slist* headers = nullptr;
  if (!token.empty()) headers = curl_slist_append(headers, ("X-Nomad-Token: " + token).c_str());
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  if (!body.empty()) {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (headers) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r.body);
  CURLcode code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) return absl::UnavailableError(absl::StrCat(method, " ", url, ": ", curl_easy_strerror(code)));
  return r;
}

absl::StatusOr<std::unique_ptr<FakeNomad>> FakeNomad::Start(const std::string& dir, const std::string& token) {
  auto f = std::unique_ptr<FakeNomad>(new FakeNomad());
  SubprocessOptions o;
  o.argv = {std::string(TERN_BINARY_DIR) + "/tern-fake-nomad"};
  if (!token.empty()) o.argv.insert(o.argv.end(), {"--token", token});
  o.log_path = dir + "/fake-nomad.log";
  auto p = Subprocess::Start(o);
  if (!p.ok()) return p.status();
  f->process_ = std::move(*p);
  if (auto ready = f->process_->WaitForLine("^READY$", std::chrono::seconds(20)); !ready.ok()) return ready.status();
  auto port = f->process_->WaitForLine("^PORT=([0-9]+)$", std::chrono::seconds(1));
  if (!port.ok()) return port.status();
  f->port_ = std::stoi((*port)[1]);
  return f;
}

absl::Status FakeNomad::Register(const std::string& id, const std::string& service, int port,
                                 const std::string& namespace_name) {
  nlohmann::json reg = {{"ID", "_nomad-task-" + id + "-" + service}, {"ServiceName", service},
                        {"Namespace", namespace_name}, {"NodeID", "node-1"}, {"Datacenter", "dc1"},
                        {"JobID", service}, {"AllocID", id}, {"Tags", nlohmann::json::array()},
                        {"Address", "127.0.0.1"}, {"Port", port}};
  auto r = NomadRequest("PUT", address() + "/test/register", reg.dump());
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(absl::StrCat("register: HTTP ", r->status, ": ", r->body));
  return absl::OkStatus();
}

absl::Status FakeNomad::Deregister(const std::string& id, const std::string& service) {
  auto r = NomadRequest("DELETE", address() + "/test/deregister/_nomad-task-" + id + "-" + service);
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::NotFoundError(absl::StrCat("deregister ", id, ": HTTP ", r->status, ": ", r->body));
  return absl::OkStatus();
}

absl::Status FakeNomad::Fault(const std::string& mode) {
  auto r = NomadRequest("PUT", address() + "/test/fault?mode=" + mode);
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(absl::StrCat("fault: HTTP ", r->status, ": ", r->body));
  return absl::OkStatus();
}

long FakeNomad::Requests() {
  auto r = NomadRequest("GET", address() + "/test/stats");
  if (!r.ok() || r->status != 200) return -1;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return -1;
  return j.value("requests", -1L);
}

}  // namespace tern::testing
