// Issue 12, item 3: tern receiving SIGTERM with many proxies connected ends every stream with a
// status (the proxies reconnect elsewhere at once instead of waiting for a keepalive timeout),
// writes a disconnect record for each and exits 0 within 5 s.
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kStreams = 1000;
constexpr char kAds[] = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

const char kServices[] = R"(services:
  - name: web
    endpoints: [ { address: 127.0.0.1, port: 9001 } ]
gateways:
  - name: edge
    listeners:
      - name: http
        port: 8080
        virtual_hosts:
          - name: all
            domains: ["*"]
            routes:
              - match: { prefix: / }
                service: web
)";

// kStreams ADS streams on one channel and one completion queue: each sends a wildcard CDS
// request, reads until the server ends the stream, and records the final status.
class ManyStreams {
 public:
  explicit ManyStreams(const std::string& target)
      : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())), stub_(channel_) {
    envoy::service::discovery::v3::DiscoveryRequest req;
    req.set_type_url("type.googleapis.com/envoy.config.cluster.v3.Cluster");
    req.mutable_node()->set_cluster("edge");
    for (int i = 0; i < kStreams; ++i) calls_.push_back(std::make_unique<Call>());
    for (int i = 0; i < kStreams; ++i) {
      Call& c = *calls_[i];
      req.mutable_node()->set_id("envoy-" + std::to_string(i));
      std::string bytes = req.SerializeAsString();
      grpc::Slice slice(bytes);
      c.request = grpc::ByteBuffer(&slice, 1);
      c.rw = stub_.PrepareCall(&c.ctx, kAds, &cq_);
      c.rw->StartCall(Tag(i, kStart));
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~ManyStreams() {
    for (auto& c : calls_) c->ctx.TryCancel();
    if (thread_.joinable()) thread_.join();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  int first_responses() const { return first_responses_.load(); }
  int finished() const { return finished_.load(); }
  // Final statuses by code.
  std::map<int, int> codes() {
    std::lock_guard<std::mutex> l(mu_);
    return codes_;
  }

 private:
  enum Op { kStart, kWrite, kRead, kFinish };
  struct Call {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> rw;
    grpc::ByteBuffer request, response;
    grpc::Status status;
    bool got_first = false;
  };
  static void* Tag(int i, Op op) { return reinterpret_cast<void*>(static_cast<intptr_t>(i * 4 + op)); }
  void Loop() {
    void* tag;
    bool ok;
    while (finished_ < kStreams) {
      auto st = cq_.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + seconds(30));
      if (st != grpc::CompletionQueue::GOT_EVENT) break;
      const intptr_t t = reinterpret_cast<intptr_t>(tag);
      Call& c = *calls_[t / 4];
      switch (static_cast<Op>(t % 4)) {
        case kStart:
          if (ok) c.rw->Write(c.request, Tag(t / 4, kWrite));
          else c.rw->Finish(&c.status, Tag(t / 4, kFinish));
          break;
        case kWrite:
          if (ok) c.rw->Read(&c.response, Tag(t / 4, kRead));
          else c.rw->Finish(&c.status, Tag(t / 4, kFinish));
          break;
        case kRead:
          if (ok) {
            if (!c.got_first) {
              c.got_first = true;
              first_responses_++;
            }
            c.rw->Read(&c.response, Tag(t / 4, kRead));
          } else {
            c.rw->Finish(&c.status, Tag(t / 4, kFinish));
          }
          break;
        case kFinish: {
          std::lock_guard<std::mutex> l(mu_);
          codes_[c.status.error_code()]++;
          finished_++;
          break;
        }
      }
    }
  }
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Call>> calls_;
  std::atomic<int> first_responses_{0};
  std::atomic<int> finished_{0};
  std::mutex mu_;
  std::map<int, int> codes_;
  std::thread thread_;
};

TEST(ShutdownTest, SigtermWithManyStreamsEndsEachWithAStatusRecordsItAndExitsZeroWithin5s) {
  testing::TempDir dir;
  ASSERT_TRUE(testing::WriteFile(dir.path() + "/services.yaml", kServices).ok());
  auto tern = testing::TernServer::Start(
      {.dir = dir.path(), .files = {"services.yaml"}, .extra_config = "audit:\n  path: audit.jsonl\n"});
  ASSERT_TRUE(tern.ok()) << tern.status();

  ManyStreams streams((*tern)->xds_address());
  for (int i = 0; i < 300 && streams.first_responses() < kStreams; ++i) std::this_thread::sleep_for(milliseconds(50));
  ASSERT_EQ(streams.first_responses(), kStreams) << "every stream synced before the signal";

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill((*tern)->process().pid(), SIGTERM), 0);
  auto code = (*tern)->process().Wait(seconds(5));
  const auto took = std::chrono::steady_clock::now() - signalled;
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_LT(took, seconds(5));

  for (int i = 0; i < 100 && streams.finished() < kStreams; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(streams.finished(), kStreams) << "every stream was ended by the server";
  auto codes = streams.codes();
  for (const auto& [c, n] : codes) RecordProperty("status_" + std::to_string(c), n);
  RecordProperty("exit_ms", static_cast<int>(std::chrono::duration_cast<milliseconds>(took).count()));
  EXPECT_EQ(codes[grpc::StatusCode::OK] + codes[grpc::StatusCode::UNAVAILABLE] + codes[grpc::StatusCode::CANCELLED],
            kStreams);

  // The audit trail records each proxy's disconnect, written before exit.
  std::ifstream in(dir.path() + "/audit.jsonl");
  int disconnects = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("kind", "") == "proxy_disconnect") disconnects++;
  }
  EXPECT_EQ(disconnects, kStreams);
}

}  // namespace
}  // namespace tern
