// Bytes from outside that are not UTF-8 never take tern down (issue 12, the opening bug: a 500
// answer with a Latin-1 body made the next GET /debug/sources abort tern with nlohmann's
// type_error 316). The real `build/tern serve` watches tern-fake-nomad; the stories:
//   - Nomad (really: a proxy in front of it) answers HTTP 500 with a body that is not UTF-8, cut
//     by tern where a multi-byte character sits: tern keeps serving, and /debug/sources answers
//     valid JSON that names the error, with U+FFFD where the bad bytes were.
//   - A proxy NACKs with an error_detail that is not UTF-8, or names itself with such a node id:
//     the stream is refused as malformed (proto3 strings must be UTF-8), tern stays up, other
//     streams go on, and /debug/proxies answers valid JSON.
//   - An admin query string holds such bytes: the answer is valid JSON naming the bad value.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/type_urls.h"
#include "integration/nomad_fake.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/raw_xds_client.h"
#include "support/tern_fixture.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

class OutsideBytesTest : public TernTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(Started(FakeNomad::Start(dir_.path()), &nomad_));
    ASSERT_TRUE(nomad_->Register("alloc-a", "greeter", 7001).ok());
    StartTern({.extra_config = absl::StrCat("nomad:\n  address: \"", nomad_->address(), "\"\n")});
  }

  // GET path; the body must be JSON that a strict parser (which refuses invalid UTF-8) accepts.
  nlohmann::json AdminJson(const std::string& path, int* status = nullptr) {
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status();
    if (!r.ok()) return nullptr;
    if (status) *status = r->status;
    nlohmann::json j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << path << " is not valid JSON: " << r->body;
    return j;
  }
  nlohmann::json NomadSource() {
    nlohmann::json all = AdminJson("/debug/sources");
    if (!all.is_array()) return nullptr;
    for (const auto& s : all) {
      if (s.value("name", "") == "nomad") return s;
    }
    return nullptr;
  }

  std::unique_ptr<FakeNomad> nomad_;
};

TEST_F(OutsideBytesTest, ANon_Utf8ErrorAnswerIsShownWithReplacementCharactersAndTernStaysUp) {
  ASSERT_TRUE(nomad_->Fault("500-binary").ok());
  nlohmann::json src;
  ASSERT_TRUE(WaitFor([&] {
    src = NomadSource();
    return src.is_object() && src.value("last_error", "").find("HTTP 500") != std::string::npos;
  }, seconds(5))) << src.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string error = src["last_error"];
  // The operator reads what the server said, with U+FFFD where its bytes were not text.
  EXPECT_NE(error.find("nomad /v1/service"), std::string::npos) << error;
  EXPECT_NE(error.find("proxy error: caf" + kReplacement), std::string::npos) << error;
  EXPECT_NE(error.find(kReplacement + " upstream " + kReplacement + " unreachable"), std::string::npos) << error;
  // The 200-byte quote ends before the euro sign that straddles the cut, not inside it.
  EXPECT_EQ(error.find("\xE2\x82"), std::string::npos) << error;
  EXPECT_TRUE(src["serving_last_good"].get<bool>());
  // Asked again and again (the original crash came on the next GET): still alive and valid.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(NomadSource().is_object());
  EXPECT_TRUE(AdminJson("/readyz").is_object());
  EXPECT_TRUE(tern_->process().Running());

  // Nomad answers well again: tern follows it.
  ASSERT_TRUE(nomad_->Fault("none").ok());
  EXPECT_TRUE(WaitFor([&] {
    src = NomadSource();
    return src.is_object() && src["serving_last_good"] == false;
  }, seconds(5))) << src.dump();
}

// A request whose string fields are not UTF-8: serialized with a same-length placeholder, whose
// bytes are then overwritten (protobuf would refuse to build it otherwise).
std::string WithBytes(const DiscoveryRequest& req, const std::string& placeholder, const std::string& bytes) {
  std::string wire = req.SerializeAsString();
  const size_t at = wire.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(placeholder.size(), bytes.size());
  if (at != std::string::npos) wire.replace(at, placeholder.size(), bytes);
  return wire;
}

TEST_F(OutsideBytesTest, ANackOrANodeIdThatIsNotUtf8IsRefusedAsMalformedAndDebugProxiesStaysValid) {
  const std::string type_url(TypeUrl(ResourceType::kCluster));
  // A well-behaved proxy, connected throughout.
  RawXdsClient good(tern_->xds_address(), kAdsMethod);
  good.Send(RawXdsClient::Request(type_url, {}, "", "", "proxyless", "good-1"));
  auto first = good.Next();
  ASSERT_TRUE(first);
  good.Send(RawXdsClient::Request(type_url, {}, first->version_info(), first->nonce(), "proxyless", "good-1"));

  // 1. A NACK whose error_detail holds Latin-1 and stray bytes.
  RawXdsClient nacker(tern_->xds_address(), kAdsMethod);
  nacker.Send(RawXdsClient::Request(type_url, {}, "", "", "proxyless", "nacker-1"));
  auto r = nacker.Next();
  ASSERT_TRUE(r);
  auto nack = RawXdsClient::Request(type_url, {}, "", r->nonce(), "proxyless", "nacker-1");
  nack.mutable_error_detail()->set_message("cluster greeter: PLACEHOLDER");
  ASSERT_TRUE(nacker.SendRaw(WithBytes(nack, "PLACEHOLDER", "caf\xE9 \xFF\xFE\x80\xC3!!")));
  grpc::Status st = nacker.AwaitStatus();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("malformed request"), std::string::npos) << st.error_message();

  // 2. A first request whose node id is not UTF-8.
  RawXdsClient stranger(tern_->xds_address(), kAdsMethod);
  auto hello = RawXdsClient::Request(type_url, {}, "", "", "proxyless", "PLACEHOLDER");
  ASSERT_TRUE(stranger.SendRaw(WithBytes(hello, "PLACEHOLDER", "envoy-\xC0\xAF\xED\xA0\x80")));
  EXPECT_EQ(stranger.AwaitStatus().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // tern is up; /debug/proxies is valid JSON and shows the good proxy, which still gets answers.
  nlohmann::json proxies;
  ASSERT_TRUE(WaitFor([&] {
    proxies = AdminJson("/debug/proxies");
    return proxies.is_array() && proxies.size() == 1;
  }, seconds(5))) << proxies.dump();
  EXPECT_EQ(proxies[0]["node_id"], "good-1");
  EXPECT_TRUE(tern_->process().Running());
  // The good proxy's stream is served as before: it asks for greeter's listener and gets it.
  good.Send(RawXdsClient::Request(std::string(TypeUrl(ResourceType::kListener)), {"greeter"}, "", "", "proxyless",
                                  "good-1"));
  auto listeners = good.Next(seconds(5));
  ASSERT_TRUE(listeners) << "the good proxy is no longer answered";
  EXPECT_EQ(listeners->type_url(), TypeUrl(ResourceType::kListener));
  EXPECT_EQ(listeners->resources_size(), 1);
}

TEST_F(OutsideBytesTest, AdminQueryStringsThatAreNotUtf8GetValidJsonErrorsNamingTheValue) {
  int status = 0;
  nlohmann::json j = AdminJson("/debug/resources?node_cluster=proxyless&type=%FF%FEx", &status);
  EXPECT_EQ(status, 400);
  ASSERT_TRUE(j.is_object());
  EXPECT_NE(j.value("error", "").find("unknown resource type '" + kReplacement), std::string::npos) << j.dump();

  j = AdminJson("/debug/no%22such%FF", &status);
  EXPECT_EQ(status, 404);
  ASSERT_TRUE(j.is_object());
  EXPECT_NE(j.value("error", "").find("no such admin endpoint: /debug/no\"such" + kReplacement), std::string::npos)
      << j.dump();
  EXPECT_TRUE(tern_->process().Running());
}

}  // namespace
}  // namespace tern::testing
