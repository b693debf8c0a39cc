#pragma once
// A small HTTP server for the admin API (civetweb underneath). Handlers return a response;
// they run on civetweb's worker threads and must only read state.
#include <functional>
#include <map>
#include <memory>
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
  // `address` is host:port; port 0 picks a free one, returned in `bound_port`.
  absl::Status Start(const std::string& address, int* bound_port = nullptr);
  void Stop();

 private:
  static int Dispatch(::mg_connection* conn, void* self);
  std::map<std::string, HttpHandler> handlers_;
  mg_context* ctx_ = nullptr;
};

}  // namespace tern::admin
