// BlockingClient::Stream against a tiny local HTTP server whose every answer the test writes by
// hand: bytes reach the reader as they come, an ended stream is started again at the path it asks
// for then, a refused stream backs off instead of looping, a silent one ends at its idle timeout,
// a reader can end it, and Unwatch stops it for good.
#include "sources/http/blocking_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tern::sources::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One thread per connection; `handler(fd, n)` writes the answer to the n-th connection (0-based)
// and the connection is closed when it returns. Handlers wait through Sleep(), which returns early
// once the server stops.
class TinyServer {
 public:
  using Handler = std::function<void(TinyServer& s, int fd, int n)>;
  explicit TinyServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~TinyServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }
  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> Requests() {
    std::lock_guard l(mu_);
    return requests_;
  }
  // Waits `d` or until the server stops; false when it stopped.
  bool Sleep(std::chrono::milliseconds d) {
    const auto end = Clock::now() + d;
    while (!stop_ && Clock::now() < end) std::this_thread::sleep_for(10ms);
    return !stop_;
  }
  static bool Write(int fd, const std::string& s) {
    return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  static bool Chunk(int fd, const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return Write(fd, size + data + "\r\n");
  }
  static bool StreamHead(int fd) {
    return Write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  }

 private:
  void Accept() {
    for (int n = 0;; ++n) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char buf[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t got = recv(c, buf, sizeof buf, 0);
        if (got <= 0) break;
        head.append(buf, static_cast<size_t>(got));
      }
      {
        std::lock_guard l(mu_);
        requests_.push_back(head);
      }
      workers_.emplace_back([this, c, n] {
        handler_(*this, c, n);
        shutdown(c, SHUT_RDWR);
        close(c);
      });
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

// What a reader heard.
struct Heard {
  std::mutex mu;
  std::vector<long> opens;
  std::string bytes;
  std::vector<Response> ends;

  StreamCallbacks Callbacks(std::function<bool(std::string_view)> accept = nullptr) {
    return {.on_open = [this](long status) {
              std::lock_guard l(mu);
              opens.push_back(status);
            },
            .on_bytes = [this, accept](std::string_view b) {
              std::lock_guard l(mu);
              bytes.append(b);
              return accept ? accept(b) : true;
            },
            .on_end = [this](const Response& r) {
              std::lock_guard l(mu);
              ends.push_back(r);
            }};
  }
  size_t Ends() {
    std::lock_guard l(mu);
    return ends.size();
  }
  bool WaitForEnds(size_t n, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    while (Ends() < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return Ends() >= n;
  }
};

TEST(BlockingClientStream, DeliversEachPieceAsItComesAndStartsAgainAtTheNewPathAfterAnEnd) {
  TinyServer server([](TinyServer& s, int fd, int) {
    if (!TinyServer::StreamHead(fd) || !TinyServer::Chunk(fd, "{\"Index\": 1")) return;
    if (!s.Sleep(100ms)) return;
    TinyServer::Chunk(fd, "}\n{}\n");
    TinyServer::Write(fd, "0\r\n\r\n");  // a clean end of the body: still an end for a stream
  });
  BlockingClient client({.address = server.address(), .token = "s3cret", .token_header = "X-Nomad-Token",
                         .backoff_min = 20ms, .backoff_max = 100ms});
  std::atomic<int> starts{0};
  Heard heard;
  WatchId id = client.Stream([&] { return "/v1/event/stream?topic=Service&index=" + std::to_string(starts++); },
                             heard.Callbacks());
  client.Start();
  ASSERT_TRUE(heard.WaitForEnds(2));
  client.Unwatch(id);
  client.Stop();

  std::lock_guard l(heard.mu);
  EXPECT_GE(heard.opens.size(), 2u);
  for (long status : heard.opens) EXPECT_EQ(status, 200);
  EXPECT_EQ(heard.bytes.substr(0, 32), "{\"Index\": 1}\n{}\n{\"Index\": 1}\n{}\n");
  for (const auto& end : heard.ends) {
    EXPECT_FALSE(end.ok);
    EXPECT_EQ(end.status, 200);
    EXPECT_TRUE(end.body.empty()) << "a stream's bytes go to its reader only";
    EXPECT_NE(end.error.find("/v1/event/stream?topic=Service: the stream ended"), std::string::npos) << end.error;
    EXPECT_EQ(end.error.find("s3cret"), std::string::npos);
  }
  const auto requests = server.Requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_NE(requests[0].find("GET /v1/event/stream?topic=Service&index=0 "), std::string::npos) << requests[0];
  EXPECT_NE(requests[1].find("GET /v1/event/stream?topic=Service&index=1 "), std::string::npos) << requests[1];
  EXPECT_NE(requests[0].find("X-Nomad-Token: s3cret"), std::string::npos) << requests[0];
  EXPECT_GE(client.total_requests(), 2u);
}

TEST(BlockingClientStream, ARefusedStreamEndsWithItsStatusAndIsAskedAgainWithBackoffNotInALoop) {
  TinyServer server([](TinyServer&, int fd, int) {
    TinyServer::Write(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 17\r\n\r\nPermission denied");
  });
  BlockingClient client({.address = server.address(), .backoff_min = 50ms, .backoff_max = 5000ms,
                         .stream_backoff_max = 400ms});
  Heard heard;
  WatchId id = client.Stream([] { return std::string("/v1/event/stream?index=7"); }, heard.Callbacks());
  client.Start();
  std::this_thread::sleep_for(2s);
  const uint64_t requests = client.requests(id);
  client.Stop();
  // 50, 100, 200, then one per 200–400 ms: about 8–12 in 2 s; a loop would be thousands.
  EXPECT_GE(requests, 4u);
  EXPECT_LE(requests, 14u);
  std::lock_guard l(heard.mu);
  EXPECT_TRUE(heard.opens.empty()) << "a 403 is not an open stream";
  EXPECT_TRUE(heard.bytes.empty());
  ASSERT_GE(heard.ends.size(), 4u);
  for (const auto& end : heard.ends) {
    EXPECT_EQ(end.status, 403);
    EXPECT_EQ(end.error, heard.ends[0].error) << "the same failure reads the same on every retry";
  }
  EXPECT_NE(heard.ends[0].error.find("/v1/event/stream: HTTP 403: Permission denied"), std::string::npos)
      << heard.ends[0].error;
}

TEST(BlockingClientStream, AStreamEndsAtItsIdleTimeoutButNotWhileHeartbeatsKeepComing) {
  TinyServer server([](TinyServer& s, int fd, int) {
    if (!TinyServer::StreamHead(fd)) return;
    for (int i = 0; i < 10; ++i) {  // a heartbeat every 100 ms for a second, then silence
      if (!TinyServer::Chunk(fd, "{}\n") || !s.Sleep(100ms)) return;
    }
    s.Sleep(30s);
  });
  BlockingClient client({.address = server.address(), .backoff_min = 20ms, .stream_idle_timeout = 300ms});
  Heard heard;
  const auto start = Clock::now();
  client.Stream([] { return std::string("/v1/event/stream"); }, heard.Callbacks());
  client.Start();
  ASSERT_TRUE(heard.WaitForEnds(1, 5s));
  const auto ended = Clock::now() - start;
  client.Stop();
  EXPECT_GE(ended, 1000ms) << "heartbeats every 100 ms keep a 300 ms idle timeout away";
  std::lock_guard l(heard.mu);
  EXPECT_NE(heard.ends[0].error.find("/v1/event/stream: no byte for 300 ms (the stream's idle timeout)"),
            std::string::npos)
      << heard.ends[0].error;
  EXPECT_EQ(heard.bytes.substr(0, 9), "{}\n{}\n{}\n");
}

TEST(BlockingClientStream, AReaderRefusingBytesEndsTheStreamAndUnwatchStopsItForGood) {
  std::atomic<int> connections{0};
  TinyServer server([&](TinyServer& s, int fd, int) {
    connections++;
    if (!TinyServer::StreamHead(fd)) return;
    while (TinyServer::Chunk(fd, "not json\n") && s.Sleep(50ms)) {
    }
  });
  BlockingClient client({.address = server.address(), .backoff_min = 50ms, .backoff_max = 200ms});
  Heard heard;
  WatchId id = client.Stream([] { return std::string("/v1/event/stream"); },
                             heard.Callbacks([](std::string_view) { return false; }));
  client.Start();
  ASSERT_TRUE(heard.WaitForEnds(2));
  {
    std::lock_guard l(heard.mu);
    EXPECT_NE(heard.ends[0].error.find("/v1/event/stream: ended by tern: what came could not be used"),
              std::string::npos)
        << heard.ends[0].error;
    EXPECT_GE(heard.opens.size(), heard.ends.size());  // each end was an open stream (the next may be open)
  }
  client.Unwatch(id);
  const size_t ends = heard.Ends();
  const int seen = connections.load();
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(heard.Ends(), ends) << "no callback after Unwatch";
  EXPECT_LE(connections.load(), seen + 1) << "an unwatched stream is not started again";
  EXPECT_EQ(client.watch_count(), 0u);
  client.Stop();
}

}  // namespace
}  // namespace tern::sources::http
