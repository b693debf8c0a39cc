#pragma once
// Reading tern's /metrics (the Prometheus text format) in tests, and running promtool on files.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tern::testing {

// One scrape: every sample by its series exactly as printed (`name{labels}`), and every family's
// type from its `# TYPE` line.
struct Scrape {
  std::string text;
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;

  // The value of `series`, or -1 when it is not exported.
  double operator[](const std::string& series) const {
    auto it = samples.find(series);
    return it == samples.end() ? -1 : it->second;
  }
};

Scrape ParseScrape(std::string text);

// GET /metrics from tern's admin port on loopback; an empty Scrape when it does not answer 200.
Scrape ScrapeMetrics(int admin_port);
// Scrapes every 25 ms until `pred` holds or `timeout` passes; returns the last scrape.
Scrape AwaitMetrics(int admin_port, const std::function<bool(const Scrape&)>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct ToolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// `promtool ARGS...` (from PATH: Debian's prometheus package), with stdin from `stdin_path` when
// given; its log goes to `dir`/promtool.log.
ToolResult RunPromtool(const std::vector<std::string>& args, const std::string& dir, const std::string& stdin_path = "");

}  // namespace tern::testing
