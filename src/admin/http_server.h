#pragma once
// A small HTTP server for the admin API (civetweb underneath). Handlers return a response;
// they run on civetweb's worker threads and must only read state.
//
// Access control: with RequireBearerToken, every path except the open ones answers 401 unless the
// request carries `Authorization: Bearer <token>`. The comparison is constant-time (both sides
// are hashed first, so neither the content nor the length of the token leaks through timing),
// and the token is never logged or echoed.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"

struct mg_context;
struct mg_connection;

namespace tern::admin {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers = {};  // extra response headers
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register before Start. Exact path match.
  void Handle(const std::string& path, HttpHandler handler);
  // From then on, paths not in `open_paths` need `Authorization: Bearer <token>`. Before Start.
  void RequireBearerToken(std::string token, std::set<std::string> open_paths);
  // `address` is host:port; port 0 picks a free one, returned in `bound_port`.
  absl::Status Start(const std::string& address, int* bound_port = nullptr);
  void Stop();

 private:
  static int Dispatch(::mg_connection* conn, void* self);
  bool Authorized(const char* authorization_header) const;
  std::map<std::string, HttpHandler> handlers_;
  std::string token_digest_;  // SHA-256 of the token; empty = no token required
  std::set<std::string> open_paths_;
  mg_context* ctx_ = nullptr;
};

}  // namespace tern::admin
