#include "admin/http_server.h"

#include <civetweb.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>

namespace tern::admin {
namespace {
std::string Decode(const std::string& s) {
  std::string out(s.size() + 1, '\0');
  int n = mg_url_decode(s.c_str(), static_cast<int>(s.size()), out.data(), static_cast<int>(out.size()), 1);
  out.resize(n < 0 ? 0 : n);
  return out;
}

std::map<std::string, std::string> ParseQuery(const char* qs) {
  std::map<std::string, std::string> out;
  if (!qs) return out;
  std::string s(qs);
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string::npos) amp = s.size();
    std::string kv = s.substr(pos, amp - pos);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) out[Decode(kv)] = "";
      else out[Decode(kv.substr(0, eq))] = Decode(kv.substr(eq + 1));
    }
    pos = amp + 1;
  }
  return out;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}
std::string Sha256(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof(d));
}

bool IEquals(const std::string& a, const char* b) {
  if (a.size() != std::strlen(b)) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}
}  // namespace

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, HttpHandler handler) { handlers_[path] = std::move(handler); }

void HttpServer::RequireBearerToken(std::string token, std::set<std::string> open_paths) {
  token_digest_ = Sha256(token);
  open_paths_ = std::move(open_paths);
}

// RFC 6750 section 2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive.
bool HttpServer::Authorized(const char* header) const {
  if (!header) return false;
  std::string h(header);
  size_t sp = h.find(' ');
  if (sp == std::string::npos || !IEquals(h.substr(0, sp), "Bearer")) return false;
  size_t start = h.find_first_not_of(' ', sp);
  if (start == std::string::npos) return false;
  size_t end = h.find_last_not_of(" \t");
  std::string digest = Sha256(h.substr(start, end + 1 - start));
  return CRYPTO_memcmp(digest.data(), token_digest_.data(), digest.size()) == 0;
}

int HttpServer::Dispatch(::mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "/";
  req.query = ParseQuery(info->query_string);
  HttpResponse resp;
  auto it = self->handlers_.find(req.path);
  if (!self->token_digest_.empty() && !self->open_paths_.contains(req.path) &&
      !self->Authorized(mg_get_header(conn, "Authorization"))) {
    resp = {401, "application/json", "{\"error\":\"this admin endpoint needs Authorization: Bearer <token>\"}\n"};
    resp.headers["WWW-Authenticate"] = "Bearer realm=\"tern admin\"";
  } else if (it == self->handlers_.end()) {
    // The path is the client's: escaped, and invalid UTF-8 replaced, never thrown on.
    nlohmann::json err = {{"error", "no such admin endpoint: " + req.path}};
    resp = {404, "application/json", err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
  } else if (req.method != "GET" && req.method != "HEAD") {
    resp = {405, "application/json", "{\"error\":\"the admin API is read-only: use GET\"}\n"};
  } else {
    // A handler that throws would end the process from civetweb's thread (std::terminate): the
    // handlers are written not to, and this keeps one mistake from taking the control plane down.
    try {
      resp = it->second(req);
    } catch (const std::exception& e) {
      nlohmann::json err = {{"error", std::string("internal error: ") + e.what()}};
      resp = {500, "application/json", err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
    }
  }
  std::string head = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) +
                     "\r\nContent-Type: " + resp.content_type + "\r\nContent-Length: " +
                     std::to_string(resp.body.size()) + "\r\nCache-Control: no-store\r\n";
  for (const auto& [name, value] : resp.headers) head += name + ": " + value + "\r\n";
  head += "Connection: close\r\n\r\n";
  mg_write(conn, head.data(), head.size());
  if (req.method != "HEAD") mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

absl::Status HttpServer::Start(const std::string& address, int* bound_port) {
  static const unsigned init = mg_init_library(0);
  (void)init;
  std::string ports = address;
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "4", "enable_keep_alive", "no",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  ctx_ = mg_start(&callbacks, this, options);
  if (!ctx_) return absl::UnavailableError("cannot listen for the admin API on " + address);
  mg_set_request_handler(ctx_, "/", &HttpServer::Dispatch, this);
  if (bound_port) {
    mg_server_port p[4];
    int n = mg_get_server_ports(ctx_, 4, p);
    *bound_port = n > 0 ? p[0].port : 0;
  }
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (ctx_) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

}  // namespace tern::admin
