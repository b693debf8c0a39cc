// Admin API access control, through the real `build/tern serve`: with admin.token_file set, the
// status page and /debug/* answer only requests carrying `Authorization: Bearer <token>`, while the
// probes and Prometheus (/healthz, /readyz, /metrics) stay open; the token never shows in tern's
// log or in any answer; a token file that cannot be used stops tern before it serves anything.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "app/config.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/tern_process.h"

namespace tern::testing {
namespace {

constexpr char kToken[] = "t0ken-7f3a9c1e-only-the-operator-knows";

constexpr char kServices[] =
    "services:\n"
    "  - name: web\n"
    "    endpoints: [ { address: 127.0.0.1, port: 9001 } ]\n";

class AdminAccessTest : public ::testing::Test {
 protected:
  void StartTern(const std::string& admin_extra) {
    ASSERT_TRUE(WriteFile(dir_.File("services.yaml"), kServices).ok());
    auto t = TernServer::Start({.dir = dir_.path(), .files = {"services.yaml"}, .admin_extra = admin_extra});
    ASSERT_TRUE(t.ok()) << t.status();
    tern_ = std::move(*t);
  }

  HttpResponse Get(const std::string& path, const std::string& authorization = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!authorization.empty()) headers.push_back({"Authorization", authorization});
    auto r = HttpGet("127.0.0.1", tern_->admin_port(), path, headers);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status();
    return r.ok() ? *r : HttpResponse{};
  }

  TempDir dir_;
  std::unique_ptr<TernServer> tern_;
};

TEST_F(AdminAccessTest, WithATokenTheDebugEndpointsAndThePageNeedIt) {
  ASSERT_TRUE(WriteFile(dir_.File("admin-token"), std::string(kToken) + "\n").ok());
  ASSERT_NO_FATAL_FAILURE(StartTern("  token_file: admin-token\n"));
  const std::string bearer = absl::StrCat("Bearer ", kToken);

  for (const std::string path : {"/", "/debug/proxies", "/debug/sources", "/debug/gateways", "/debug/audit",
                                 "/debug/resources?node_cluster=edge", "/debug/no-such-thing"}) {
    SCOPED_TRACE(path);
    HttpResponse none = Get(path);
    EXPECT_EQ(none.status, 401);
    EXPECT_NE(none.head.find("WWW-Authenticate: Bearer"), std::string::npos) << none.head;
    EXPECT_EQ(none.body.find("web"), std::string::npos) << "a refused request still got data: " << none.body;
    // Near misses are refused too: a prefix of the token, the token plus a character, another scheme.
    EXPECT_EQ(Get(path, absl::StrCat("Bearer ", std::string(kToken).substr(0, sizeof(kToken) - 2))).status, 401);
    EXPECT_EQ(Get(path, absl::StrCat(bearer, "x")).status, 401);
    EXPECT_EQ(Get(path, absl::StrCat("Basic ", kToken)).status, 401);
    EXPECT_EQ(Get(path, "Bearer").status, 401);
  }

  // The right token opens them (the scheme name is case-insensitive, RFC 6750 / RFC 7235).
  HttpResponse sources = Get("/debug/sources", bearer);
  EXPECT_EQ(sources.status, 200);
  EXPECT_NE(sources.body.find("\"synced\": true"), std::string::npos) << sources.body;
  EXPECT_EQ(Get("/debug/proxies", absl::StrCat("bearer ", kToken)).status, 200);
  HttpResponse page = Get("/", bearer);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>tern status</title>"), std::string::npos);
  EXPECT_EQ(Get("/debug/resources?node_cluster=edge&type=cluster", bearer).status, 200);
  EXPECT_EQ(Get("/debug/no-such-thing", bearer).status, 404);
  // The unknown path is echoed escaped: the answer stays JSON whatever the path holds.
  HttpResponse odd = Get("/debug/%22%7D%5C%FF%3Cx%3E", bearer);
  EXPECT_EQ(odd.status, 404);
  EXPECT_FALSE(nlohmann::json::parse(odd.body, nullptr, false).is_discarded()) << odd.body;

  // Probes and Prometheus need no token: they expose no node ids, errors or configuration.
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
  HttpResponse metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("tern_snapshots_published_total"), std::string::npos);

  // The token appears nowhere tern writes or answers.
  EXPECT_EQ(tern_->process().Log().find(kToken), std::string::npos) << tern_->process().Log();
  EXPECT_NE(tern_->process().Log().find("need the bearer token from admin.token_file"), std::string::npos);
  EXPECT_EQ(sources.body.find(kToken), std::string::npos);
  EXPECT_EQ(metrics.body.find(kToken), std::string::npos);
}

TEST_F(AdminAccessTest, WithoutATokenTheAdminApiIsOpenAndOnLoopbackByDefault) {
  ASSERT_NO_FATAL_FAILURE(StartTern(""));
  EXPECT_EQ(Get("/debug/sources").status, 200);
  EXPECT_EQ(Get("/").status, 200);
  // The embedded default (no --config) and an empty tern.yaml bind the admin API to loopback.
  auto empty = app::ParseConfig("", "tern.yaml", dir_.path());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->admin.address, "127.0.0.1:19000");
  EXPECT_EQ(empty->admin.token_file, "");
}

// An admin API reachable from other hosts without a token is allowed, and said loudly.
TEST_F(AdminAccessTest, AnOpenAdminApiOffLoopbackIsWarnedAbout) {
  const int admin_port = FreePort();
  ASSERT_TRUE(WriteFile(dir_.File("tern.yaml"), absl::StrCat("xds: { address: \"127.0.0.1:", FreePort(), "\" }\n",
                                                             "admin: { address: \"0.0.0.0:", admin_port, "\" }\n"))
                  .ok());
  auto p = Subprocess::Start({.argv = {TernBinaryPath(), "serve", "--config", dir_.File("tern.yaml")},
                              .log_path = dir_.File("serve.log")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto warned = (*p)->WaitForLine("admin API on 0\\.0\\.0\\.0:[0-9]+ is reachable from other hosts and needs no token",
                                  std::chrono::seconds(20));
  EXPECT_TRUE(warned.ok()) << warned.status();
  EXPECT_TRUE(WaitForHttp200("127.0.0.1", admin_port, "/healthz", std::chrono::seconds(10)).ok());
}

// A token file that cannot be used stops tern at start, naming the file and never its content.
TEST_F(AdminAccessTest, AnUnusableTokenFileStopsTernNamingTheFile) {
  struct Case {
    std::string what;
    std::string content;  // "" and !write: the file does not exist
    bool write;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"missing", "", false, "cannot read"},
      {"empty", "\n  \n", true, "the file is empty"},
      {"two words", "secret-part another-secret-part\n", true, "one line of visible ASCII"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    const std::string token_path = dir.File("token");
    if (c.write) {
      ASSERT_TRUE(WriteFile(token_path, c.content).ok());
    }
    ASSERT_TRUE(WriteFile(dir.File("tern.yaml"), absl::StrCat("xds: { address: \"127.0.0.1:0\" }\n"
                                                              "admin: { address: \"127.0.0.1:0\", token_file: token }\n"))
                    .ok());
    auto out = RunTern({"serve", "--config", dir.File("tern.yaml")}, dir.File("serve.log"), std::chrono::seconds(20));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->exit_code, 1) << out->out << out->err;
    const std::string all = out->out + out->err;
    EXPECT_NE(all.find("admin.token_file " + token_path), std::string::npos) << all;
    EXPECT_NE(all.find(c.expected), std::string::npos) << all;
    EXPECT_EQ(all.find("secret-part"), std::string::npos) << all;
    EXPECT_EQ(all.find("tern serving xDS"), std::string::npos) << all;
    // `tern validate` reports the same problem before a deploy does.
    auto v = RunTern({"validate", "--config", dir.File("tern.yaml")}, dir.File("validate.log"), std::chrono::seconds(20));
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->exit_code, 1);
    EXPECT_NE(v->err.find("admin.token_file " + token_path), std::string::npos) << v->err;
    EXPECT_EQ((v->out + v->err).find("secret-part"), std::string::npos);
  }
}

}  // namespace
}  // namespace tern::testing
