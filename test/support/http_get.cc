#include "support/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tern::testing {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
bool PollFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = poll(&p, 1, RemainingMs(deadline));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  return HttpGet(host, port, path, {}, timeout);
}

absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& headers,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string where = absl::StrCat("http://", host, ":", port, path);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", host));
  }
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat(where, ": connect: ", std::strerror(errno)));
    }
    if (!PollFor(fd.get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(where, ": connect timed out"));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return absl::UnavailableError(absl::StrCat(where, ": connect: ", std::strerror(err)));
    }
  }

  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, ":", port, "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  request += "Connection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!PollFor(fd.get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(where, ": send timed out"));
    }
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat(where, ": send: ", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }

  std::string raw;
  char buf[8192];
  while (true) {
    if (!PollFor(fd.get(), POLLIN, deadline)) {
      return absl::DeadlineExceededError(absl::StrCat(where, ": no complete response in time"));
    }
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat(where, ": recv: ", std::strerror(errno)));
    }
    raw.append(buf, static_cast<size_t>(n));
  }

  // "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody". The server closes after the body.
  HttpResponse resp;
  size_t sp = raw.find(' ');
  if (raw.rfind("HTTP/", 0) != 0 || sp == std::string::npos || raw.size() < sp + 4 ||
      !absl::SimpleAtoi(raw.substr(sp + 1, 3), &resp.status)) {
    return absl::DataLossError(absl::StrCat(where, ": not an HTTP response: ", raw.substr(0, 80)));
  }
  size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) resp.body = raw.substr(body + 4);
  resp.head = raw.substr(0, body);
  return resp;
}

absl::Status WaitForHttp200(const std::string& host, int port, const std::string& path,
                            std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last = "no attempt";
  while (true) {
    absl::StatusOr<HttpResponse> r = HttpGet(host, port, path, std::chrono::seconds(2));
    if (r.ok() && r->status == 200) return absl::OkStatus();
    last = r.ok() ? absl::StrCat("HTTP ", r->status, ": ", r->body.substr(0, 500))
                  : std::string(r.status().message());
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("GET http://", host, ":", port, path,
                                                      " did not answer 200 within ",
                                                      timeout.count(), " ms; last: ", last));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace tern::testing
