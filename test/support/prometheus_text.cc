#include "support/prometheus_text.h"

#include <chrono>
#include <cstdlib>

#include <thread>

#include "support/http_get.h"
#include "support/process.h"

namespace tern::testing {

Scrape ScrapeMetrics(int admin_port) {
  auto r = HttpGet("127.0.0.1", admin_port, "/metrics");
  return r.ok() && r->status == 200 ? ParseScrape(r->body) : Scrape{};
}

Scrape AwaitMetrics(int admin_port, const std::function<bool(const Scrape&)>& pred,
                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Scrape s = ScrapeMetrics(admin_port);
  while (!pred(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    s = ScrapeMetrics(admin_port);
  }
  return s;
}

Scrape ParseScrape(std::string text) {
  Scrape s;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      if (sp != std::string::npos) s.types[line.substr(7, sp - 7)] = line.substr(sp + 1);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    s.samples[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  s.text = std::move(text);
  return s;
}

ToolResult RunPromtool(const std::vector<std::string>& args, const std::string& dir, const std::string& stdin_path) {
  SubprocessOptions o;
  std::string cmd = "exec promtool";
  for (const auto& a : args) cmd += " '" + a + "'";
  if (!stdin_path.empty()) cmd += " < '" + stdin_path + "'";
  o.argv = {"/bin/sh", "-c", cmd};
  o.log_path = dir + "/promtool.log";
  auto p = Subprocess::Start(o);
  if (!p.ok()) return {-1, p.status().ToString()};
  auto code = p.value()->Wait(std::chrono::seconds(30));
  return {code.ok() ? *code : -1, p.value()->Log()};
}

}  // namespace tern::testing
