#include "integration/nomad_fake.h"

#include <curl/curl.h>

#include <strings.h>

#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace tern::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t IndexHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  const std::string name = "x-nomad-index:";
  if (line.size() > name.size() && strncasecmp(line.c_str(), name.c_str(), name.size()) == 0) {
    std::string v = line.substr(name.size());
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    *static_cast<std::string*>(user) = v;
  }
  return size * n;
}

absl::Status Expect200(const absl::StatusOr<NomadHttpResult>& r, const std::string& what) {
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::InternalError(absl::StrCat(what, ": HTTP ", r->status, ": ", r->body));
  return absl::OkStatus();
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
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, IndexHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &r.index);
  CURLcode code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) return absl::UnavailableError(absl::StrCat(method, " ", url, ": ", curl_easy_strerror(code)));
  return r;
}

absl::StatusOr<std::unique_ptr<FakeNomad>> FakeNomad::Start(const std::string& dir, const std::string& token) {
  return Start(dir, FakeNomadOptions{.token = token});
}

absl::StatusOr<std::unique_ptr<FakeNomad>> FakeNomad::Start(const std::string& dir, const FakeNomadOptions& options) {
  auto f = std::unique_ptr<FakeNomad>(new FakeNomad());
  SubprocessOptions o;
  o.argv = {std::string(TERN_BINARY_DIR) + "/tern-fake-nomad"};
  if (!options.token.empty()) o.argv.insert(o.argv.end(), {"--token", options.token});
  if (options.heartbeat_ms > 0) o.argv.insert(o.argv.end(), {"--heartbeat-ms", std::to_string(options.heartbeat_ms)});
  if (options.event_buffer > 0) o.argv.insert(o.argv.end(), {"--event-buffer", std::to_string(options.event_buffer)});
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

long FakeNomad::Stat(const std::string& name) {
  auto r = NomadRequest("GET", address() + "/test/stats");
  if (!r.ok() || r->status != 200) return -1;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains(name) || !j[name].is_number()) return -1;
  return j[name].get<long>();
}

std::map<std::string, long> FakeNomad::RequestsByPath() {
  std::map<std::string, long> out;
  auto r = NomadRequest("GET", address() + "/test/stats");
  if (!r.ok() || r->status != 200) return out;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("paths") || !j["paths"].is_object()) return out;
  for (const auto& [path, n] : j["paths"].items()) {
    if (n.is_number()) out[path] = n.get<long>();
  }
  return out;
}

long FakeNomad::PathRequests(const std::string& path) {
  auto r = NomadRequest("GET", address() + "/test/stats");
  if (!r.ok() || r->status != 200) return -1;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("paths") || !j["paths"].is_object()) return -1;
  return j["paths"].value(path, 0L);
}

absl::StatusOr<std::string> FakeNomad::SubmitJob(const FakeJob& job) {
  nlohmann::json j = {{"ID", job.id}, {"Namespace", job.namespace_name}, {"Type", "service"},
                      {"Meta", job.meta.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.meta)},
                      {"TaskGroups", nlohmann::json::array()}};
  for (const auto& g : job.groups) {
    j["TaskGroups"].push_back({{"Name", g.name}, {"Count", g.count},
                               {"Meta", g.meta.empty() ? nlohmann::json(nullptr) : nlohmann::json(g.meta)},
                               {"Update", {{"MaxParallel", 1}, {"Canary", g.canary}, {"AutoRevert", g.auto_revert},
                                           {"AutoPromote", g.auto_promote}}}});
  }
  auto r = NomadRequest("PUT", address() + "/test/job", j.dump());
  if (auto st = Expect200(r, "submit job " + job.id); !st.ok()) return st;
  auto out = nlohmann::json::parse(r->body, nullptr, false);
  if (out.is_discarded() || !out.contains("DeploymentID") || !out["DeploymentID"].is_string())
    return absl::InternalError("submit job: unexpected answer " + r->body);
  return out["DeploymentID"].get<std::string>();
}

absl::StatusOr<bool> FakeNomad::PlaceAlloc(const std::string& alloc_id, const std::string& job_id,
                                           const std::string& group, const std::string& service, int port,
                                           const std::string& namespace_name) {
  nlohmann::json j = {{"ID", alloc_id}, {"JobID", job_id}, {"TaskGroup", group}, {"Namespace", namespace_name}};
  if (!service.empty()) {
    j["Service"] = service;
    j["Port"] = port;
  }
  auto r = NomadRequest("PUT", address() + "/test/alloc", j.dump());
  if (auto st = Expect200(r, "place alloc " + alloc_id); !st.ok()) return st;
  auto out = nlohmann::json::parse(r->body, nullptr, false);
  if (out.is_discarded() || !out.contains("Canary") || !out["Canary"].is_boolean())
    return absl::InternalError("place alloc: unexpected answer " + r->body);
  return out["Canary"].get<bool>();
}

absl::Status FakeNomad::StopAlloc(const std::string& alloc_id) {
  return Expect200(NomadRequest("PUT", address() + "/test/stop-alloc/" + alloc_id), "stop alloc " + alloc_id);
}

absl::Status FakeNomad::SetAllocHealth(const std::string& deployment_id, const std::vector<std::string>& healthy,
                                       const std::vector<std::string>& unhealthy) {
  nlohmann::json j = {{"DeploymentID", deployment_id}, {"HealthyAllocationIDs", healthy},
                      {"UnhealthyAllocationIDs", unhealthy}};
  return Expect200(NomadRequest("PUT", address() + "/v1/deployment/allocation-health/" + deployment_id, j.dump()),
                   "allocation-health " + deployment_id);
}

absl::Status FakeNomad::Promote(const std::string& deployment_id) {
  nlohmann::json j = {{"DeploymentID", deployment_id}, {"All", true}};
  return Expect200(NomadRequest("PUT", address() + "/v1/deployment/promote/" + deployment_id, j.dump()),
                   "promote " + deployment_id);
}

absl::Status FakeNomad::FailDeployment(const std::string& deployment_id) {
  return Expect200(NomadRequest("PUT", address() + "/v1/deployment/fail/" + deployment_id), "fail " + deployment_id);
}

absl::StatusOr<std::string> FakeNomad::LatestDeployment(const std::string& job_id, const std::string& namespace_name) {
  auto r = NomadRequest("GET", address() + "/v1/job/" + job_id + "/deployment?namespace=" + namespace_name);
  if (auto st = Expect200(r, "deployment of " + job_id); !st.ok()) return st;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_null()) return std::string();
  if (j.is_discarded() || !j.contains("ID") || !j["ID"].is_string())
    return absl::InternalError("deployment: unexpected answer " + r->body);
  return j["ID"].get<std::string>();
}

absl::Status FakeNomad::SetChecks(const std::string& alloc_id, const std::string& checks_json) {
  return Expect200(NomadRequest("PUT", address() + "/test/checks/" + alloc_id, checks_json), "checks " + alloc_id);
}

absl::Status FakeNomad::StreamFault(const std::string& mode) {
  return Expect200(NomadRequest("PUT", address() + "/test/stream?mode=" + mode), "stream fault " + mode);
}

namespace {

struct StreamSink {
  std::mutex* mu;
  std::string* bytes;
  std::atomic<bool>* stop;
  long* status;
};

size_t StreamWrite(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamSink*>(user);
  std::lock_guard<std::mutex> lock(*s->mu);
  s->bytes->append(data, size * n);
  return size * n;
}

size_t StreamHeader(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamSink*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    const auto sp = line.find(' ');
    if (sp != std::string::npos) {
      std::lock_guard<std::mutex> lock(*s->mu);
      *s->status = std::atol(line.c_str() + sp + 1);
    }
  }
  return size * n;
}

int StreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<StreamSink*>(user)->stop->load() ? 1 : 0;  // non-zero aborts the transfer
}

}  // namespace

std::unique_ptr<HttpStream> HttpStream::Open(const std::string& url, const std::string& token) {
  auto s = std::unique_ptr<HttpStream>(new HttpStream());
  s->thread_ = std::thread(&HttpStream::Run, s.get(), url, token);
  return s;
}

void HttpStream::Run(std::string url, std::string token) {
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  if (!token.empty()) headers = curl_slist_append(headers, ("X-Nomad-Token: " + token).c_str());
  StreamSink sink{&mu_, &bytes_, &stop_, &status_};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  if (headers) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, StreamWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, StreamHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, StreamProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &sink);
  CURLcode code = curl_easy_perform(easy);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  std::lock_guard<std::mutex> lock(mu_);
  code_ = static_cast<int>(code);
  done_ = true;
}

std::string HttpStream::Bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}
bool HttpStream::Done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}
int HttpStream::CurlCode() {
  std::lock_guard<std::mutex> lock(mu_);
  return code_;
}
long HttpStream::Status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}
void HttpStream::Close() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}
HttpStream::~HttpStream() { Close(); }

}  // namespace tern::testing
