#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace tern::testing {
namespace {

struct Upstream {
  long status = 0;
  std::string body;
  std::string index;
  std::string index_key;  // the index header's name, lower case, with its colon
};

// `stop` aborts the transfer (a blocking query may wait upstream for a minute).
Upstream Fetch(const std::string& url, const std::string& index_header, const std::atomic<bool>* stop) {
  Upstream out;
  out.index_key = index_header + ":";
  for (auto& c : out.index_key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, +[](void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<const std::atomic<bool>*>(p)->load() ? 1 : 0;
  });
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, stop);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 120000L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    static_cast<Upstream*>(u)->body.append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
    std::string line(d, s * n);
    const std::string key = static_cast<Upstream*>(u)->index_key;
    std::string lower = line;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind(key, 0) == 0) {
      std::string v = line.substr(key.size());
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      static_cast<Upstream*>(u)->index = v;
    }
    return s * n;
  });
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &out);
  if (curl_easy_perform(easy) == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_cleanup(easy);
  return out;
}

// `target` with its index=N query parameter (if any) raised by `offset`.
std::string ShiftIndex(const std::string& target, uint64_t offset) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return target;
  size_t pos = target.find("index=", q);
  while (pos != std::string::npos && target[pos - 1] != '?' && target[pos - 1] != '&') pos = target.find("index=", pos + 1);
  if (pos == std::string::npos) return target;
  const size_t start = pos + 6;
  size_t end = start;
  while (end < target.size() && std::isdigit(static_cast<unsigned char>(target[end]))) ++end;
  const uint64_t n = std::strtoull(target.substr(start, end - start).c_str(), nullptr, 10);
  return target.substr(0, start) + std::to_string(n + offset) + target.substr(end);
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}
}  // namespace

FaultProxy::FaultProxy(std::string upstream, std::string index_header)
    : upstream_(std::move(upstream)), index_header_(std::move(index_header)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listen_fd_, 128);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void FaultProxy::SetFault(const std::string& prefix, Fault fault) {
  std::lock_guard<std::mutex> l(mu_);
  faults_[prefix] = std::move(fault);
}

void FaultProxy::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  faults_.clear();
}

uint64_t FaultProxy::LastUpstreamIndex(const std::string& prefix) const {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t last = 0;
  for (const auto& [path, index] : upstream_index_) {
    if (path.rfind(prefix, 0) == 0) last = std::max(last, index);
  }
  return last;
}

std::vector<std::string> FaultProxy::Targets(const std::string& prefix) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (size_t i = 0; i < seen_.size(); ++i) {
    if (seen_[i].rfind(prefix, 0) == 0) out.push_back(targets_[i]);
  }
  return out;
}

long FaultProxy::Requests(const std::string& prefix) const {
  std::lock_guard<std::mutex> l(mu_);
  long n = 0;
  for (const auto& p : seen_) n += p.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

void FaultProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> l(mu_);
    conns_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FaultProxy::Serve(int fd) {
  std::string buf;
  char chunk[4096];
  while (!stop_) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buf.substr(0, end);
    buf.erase(0, end + 4);
    // "GET /v1/... HTTP/1.1"
    const size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    const std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string path = target.substr(0, target.find('?'));
    {
      std::lock_guard<std::mutex> l(mu_);
      seen_.push_back(path);
      targets_.push_back(target);
    }
    // The fault in force when the answer goes out applies (also to a blocking query that was
    // waiting upstream when the fault was set).
    auto fault_now = [&]() -> std::optional<Fault> {
      std::lock_guard<std::mutex> l(mu_);
      std::optional<Fault> f;
      for (const auto& [prefix, ff] : faults_) {
        if (path.rfind(prefix, 0) == 0) f = ff;
      }
      return f;
    };
    std::optional<Fault> before = fault_now();
    Upstream answer;
    if (!before || before->forward) {
      std::string upstream_target = target;
      if (before && before->index_offset > 0) upstream_target = ShiftIndex(target, before->index_offset);
      answer = Fetch(upstream_ + upstream_target, index_header_, &stop_);
      if (!answer.index.empty()) {
        std::lock_guard<std::mutex> l(mu_);
        upstream_index_[path] = std::strtoull(answer.index.c_str(), nullptr, 10);
      }
    }
    if (auto held = fault_now(); held && held->hold.count() > 0 && target.find("index=") != std::string::npos) {
      const auto until = std::chrono::steady_clock::now() + held->hold;
      while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::optional<Fault> fault = fault_now();
    std::string extra_headers;
    if (fault && !fault->forward) {
      answer.status = fault->status;
      answer.body = fault->body;
      answer.index = std::to_string(fault->moving_index ? ++fake_index_ : fake_index_.load());
    } else if (fault && fault->index_offset > 0 && !answer.index.empty()) {
      const uint64_t real = std::strtoull(answer.index.c_str(), nullptr, 10);
      answer.index = std::to_string(real > fault->index_offset ? real - fault->index_offset : 1);
    }
    if (fault && !fault->known_leader.empty()) extra_headers += "X-Consul-KnownLeader: " + fault->known_leader + "\r\n";
    if (answer.status == 0) {
      ::close(fd);
      return;
    }
    std::string head_out = "HTTP/1.1 " + std::to_string(answer.status) + (answer.status == 200 ? " OK" : " Error") +
                           "\r\nContent-Type: application/json\r\n" + extra_headers;
    if (!answer.index.empty()) head_out += index_header_ + ": " + answer.index + "\r\n";
    head_out += "Content-Length: " + std::to_string(answer.body.size()) + "\r\n\r\n";
    if (fault && fault->stall_after_headers) {
      // Headers, then nothing until the client gives up (or the proxy stops).
      if (SendAll(fd, head_out)) {
        while (!stop_) {
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, 100) > 0 && ::recv(fd, chunk, sizeof(chunk), 0) <= 0) break;
        }
      }
      ::close(fd);
      return;
    }
    if (fault && fault->truncate_at >= 0) {
      const size_t keep = std::min(answer.body.size(), static_cast<size_t>(fault->truncate_at));
      SendAll(fd, head_out + answer.body.substr(0, keep));
      ::close(fd);
      return;
    }
    if (fault && fault->trickle_chunks > 1) {
      bool sent = SendAll(fd, head_out);
      const size_t n = static_cast<size_t>(fault->trickle_chunks);
      const size_t piece = (answer.body.size() + n - 1) / n;
      for (size_t off = 0; sent && off < answer.body.size() && !stop_; off += piece) {
        if (off > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault->trickle_gap_ms));
        sent = SendAll(fd, answer.body.substr(off, piece));
      }
      if (!sent) {
        ::close(fd);
        return;
      }
      continue;
    }
    if (!SendAll(fd, head_out + answer.body)) {
      ::close(fd);
      return;
    }
  }
  ::close(fd);
}

}  // namespace tern::testing
