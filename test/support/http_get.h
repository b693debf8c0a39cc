#pragma once
// A minimal HTTP/1.0 GET over a raw loopback socket, for polling tern's admin endpoints from tests
// without another client library.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tern::testing {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string head;  // status line and headers, as received
};

// GET http://host:port/path. A connection failure or a malformed response is an error; any HTTP
// status is a response.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The same with request headers, e.g. {{"Authorization", "Bearer ..."}}.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Polls GET path until it answers 200 or `timeout` passes; the error carries the last answer.
absl::Status WaitForHttp200(const std::string& host, int port, const std::string& path,
                            std::chrono::milliseconds timeout);

}  // namespace tern::testing
