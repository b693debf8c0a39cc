#include "admin/http_server.h"

#include <civetweb.h>

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
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}
}  // namespace

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(const std::string& path, HttpHandler handler) { handlers_[path] = std::move(handler); }

int HttpServer::Dispatch(::mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "/";
  req.query = ParseQuery(info->query_string);
  HttpResponse resp;
  auto it = self->handlers_.find(req.path);
  if (it == self->handlers_.end()) {
    // The path is the client's: quoted by the JSON library (a '"' or invalid UTF-8 in it must not
    // make the answer invalid JSON).
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
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            resp.status, Reason(resp.status), resp.content_type.c_str(), resp.body.size());
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
