#include "support/tern_fixture.h"

#include <fstream>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "support/http_get.h"
#include "support/xds_bootstrap.h"

namespace tern::testing {

long Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

bool WaitFor(const std::function<bool()>& pred, milliseconds timeout, milliseconds poll) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

void RunCommand(const std::vector<std::string>& argv, const std::string& log_path) {
  auto p = Subprocess::Start({.argv = argv, .log_path = log_path});
  ASSERT_TRUE(p.ok()) << p.status();
  auto code = (*p)->Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok() && *code == 0) << (*p)->Log();
}

void TernTest::TearDown() {
  if (!HasFailure() || !tern_) return;
  if (show_sources_on_failure_) std::cerr << "---- /debug/sources:\n" << Admin("/debug/sources") << "\n";
  std::cerr << "---- tern log (" << tern_->process().log_path() << ") tail:\n"
            << tern_->process().LogTail(6000) << "\n----\n";
}

void TernTest::StartTern(TernServerOptions options) {
  if (options.dir.empty()) options.dir = dir_.path();
  auto tern = TernServer::Start(options);
  ASSERT_TRUE(tern.ok()) << tern.status();
  tern_ = std::move(*tern);
}

void TernTest::StartTernWithProbes(TernServerOptions options, const std::string& node_cluster,
                                   const std::string& node_id) {
  ASSERT_NO_FATAL_FAILURE(StartTern(std::move(options)));
  auto bootstrap = WriteXdsBootstrap(
      dir_.path(), {.server_uri = tern_->xds_address(), .node_id = node_id, .node_cluster = node_cluster});
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  bootstrap_ = *bootstrap;
  probe_cluster_ = node_cluster;
}

void TernTest::StartBackend(const std::string& name, TestBackend* backend) {
  auto b = StartTestBackend(name, dir_.path());
  ASSERT_TRUE(b.ok()) << b.status();
  *backend = std::move(*b);
}

std::string TernTest::Admin(const std::string& path) {
  auto r = HttpGet("127.0.0.1", tern_->admin_port(), path);
  return r.ok() ? r->body : "";
}

std::string TernTest::Resources(const std::string& type, const std::string& node_cluster) {
  return Admin("/debug/resources?node_cluster=" + node_cluster + "&type=" + type);
}

ProbeOptions TernTest::Probe(const std::string& service, int calls) {
  return {.target = "xds:///" + service, .bootstrap_path = bootstrap_, .calls = calls,
          .log_path = dir_.File(absl::StrCat("probe-", probe_runs_++, ".log"))};
}

std::unique_ptr<Subprocess> TernTest::LiveClient() {
  ProbeOptions o = Probe(20);
  o.rounds = 100000;
  o.round_interval_ms = 20;
  auto c = StartProbe(o);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  EXPECT_TRUE((*c)->WaitForLine(R"("ok":20)", std::chrono::seconds(20)).ok()) << (*c)->LogTail();
  return std::move(*c);
}

long TernTest::MovedWithin(Subprocess& client, const std::string& backend, size_t rounds_before,
                           milliseconds timeout) {
  const auto start = Clock::now();
  while (Clock::now() < start + timeout) {
    auto rounds = ParseProbeOutput(client.Log());
    for (size_t i = rounds_before; i < rounds.size(); ++i) {
      if (rounds[i].count(backend) == 20) return Ms(Clock::now() - start);
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return -1;
}

}  // namespace tern::testing
