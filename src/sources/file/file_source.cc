#include "sources/file/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/hash.h"
#include "sources/file/yaml_decoder.h"

namespace tern::sources {
namespace {

// File timestamps come from a coarse kernel clock, so a write landing in the same tick as the
// previous one keeps both mtime and (often) size. A file modified this recently is re-hashed
// on every poll until its timestamp is old enough to be trusted.
constexpr int64_t kRacyWindowNs = 2'000'000'000;

// How long new content must stay the same before it is decoded (see Poll).
constexpr std::chrono::milliseconds kSettle{50};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Summary(const std::vector<model::Problem>& problems) {
  if (problems.empty()) return "unknown error";
  std::string out = problems.front().ToString();
  if (problems.size() > 1) out += " (and " + std::to_string(problems.size() - 1) + " more problems)";
  return out;
}

}  // namespace

FileSource::FileSource(std::string name, std::vector<std::string> paths)
    : FileSource(std::move(name), std::move(paths), Options{}) {}

FileSource::FileSource(std::string name, std::vector<std::string> paths, Options options)
    : name_(std::move(name)), paths_(std::move(paths)), options_(options) {
  status_.name = name_;
}

FileSource::~FileSource() { Stop(); }

FileSource::Reading FileSource::ReadAll() const {
  Reading r;
  for (const std::string& path : paths_) {
    FileState st;
    std::string content;
    std::string error;
    struct stat sb;
    if (::stat(path.c_str(), &sb) != 0) {
      error = std::strerror(errno);
    } else {
      st.exists = true;
      st.mtime_ns = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
      st.size = static_cast<int64_t>(sb.st_size);
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        error = std::strerror(errno);
      } else {
        std::ostringstream buf;
        buf << in.rdbuf();
        if (in.bad()) error = "read error";
        else content = buf.str();
      }
    }
    st.hash = error.empty() ? "ok:" + ContentHash(content) : "error:" + error;
    r.states.push_back(std::move(st));
    r.contents.push_back(std::move(content));
    r.read_errors.push_back(std::move(error));
  }
  return r;
}

absl::StatusOr<FragmentPtr> FileSource::Decode(const Reading& reading,
                                               std::vector<model::Problem>* problems) const {
  std::vector<model::Problem> found;
  std::vector<model::World> worlds;
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (!reading.read_errors[i].empty()) {
      found.push_back({paths_[i], "cannot read file: " + reading.read_errors[i]});
      continue;
    }
    auto w = file::DecodeServicesYaml(reading.contents[i], paths_[i], &found);
    if (w.ok()) worlds.push_back(std::move(*w));
  }
  if (!found.empty()) {
    if (problems) problems->insert(problems->end(), found.begin(), found.end());
    return absl::InvalidArgumentError(Summary(found));
  }
  // A name defined in two files is refused: which one wins would depend on file order.
  std::vector<const model::World*> parts;
  for (const auto& w : worlds) parts.push_back(&w);
  auto merged = std::make_shared<model::World>(model::Merge(parts, &found));
  if (!found.empty()) {
    if (problems) problems->insert(problems->end(), found.begin(), found.end());
    return absl::InvalidArgumentError(Summary(found));
  }
  return FragmentPtr(std::move(merged));
}

void FileSource::RecordSuccess(const Reading& reading, FragmentPtr fragment) {
  known_ = reading.states;
  last_good_ = std::move(fragment);
  in_error_ = false;
  absl::MutexLock lock(&status_mu_);
  status_.synced = true;
  ++status_.index;
  status_.last_sync = std::chrono::system_clock::now();
  status_.last_error.clear();
}

void FileSource::RecordFailure(const Reading& reading, const std::vector<model::Problem>& problems) {
  known_ = reading.states;
  in_error_ = true;
  absl::MutexLock lock(&status_mu_);
  status_.last_error = Summary(problems);
}

absl::StatusOr<FragmentPtr> FileSource::SyncOnce(std::vector<model::Problem>* problems) {
  absl::MutexLock lock(&sync_mu_);
  Reading reading = ReadAll();
  std::vector<model::Problem> found;
  auto fragment = Decode(reading, &found);
  if (!fragment.ok()) {
    RecordFailure(reading, found);
    if (problems) problems->insert(problems->end(), found.begin(), found.end());
    return fragment.status();
  }
  RecordSuccess(reading, *fragment);
  return *fragment;
}

bool FileSource::MaybeChanged() {
  if (known_.size() != paths_.size()) return true;
  const int64_t now = NowNs();
  for (size_t i = 0; i < paths_.size(); ++i) {
    struct stat sb;
    const bool exists = ::stat(paths_[i].c_str(), &sb) == 0;
    if (exists != known_[i].exists) return true;
    if (!exists) continue;
    const int64_t mtime = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
    if (mtime != known_[i].mtime_ns || static_cast<int64_t>(sb.st_size) != known_[i].size) return true;
    if (now - mtime < kRacyWindowNs) return true;
  }
  return false;
}

bool FileSource::Poll(UpdateSink& sink) {
  enum class Event { kNone, kUpdate, kError } event = Event::kNone;
  FragmentPtr fragment;
  std::vector<model::Problem> problems;
  std::string reason;
  {
    absl::MutexLock lock(&sync_mu_);
    if (!MaybeChanged()) return false;
    Reading reading = ReadAll();
    std::vector<std::string> changed;
    for (size_t i = 0; i < paths_.size(); ++i) {
      if (i >= known_.size() || known_[i].hash != reading.states[i].hash) changed.push_back(paths_[i]);
    }
    if (changed.empty()) {
      known_ = reading.states;  // same bytes, newer timestamps: remember them, say nothing
      pending_.clear();
      return false;
    }
    // A writer that truncates and then writes can be caught in between, and an empty file is a
    // valid (empty) world: acting on it would withdraw every route. So new content is acted on
    // only once two reads in a row agree.
    std::vector<std::string> hashes;
    for (const auto& st : reading.states) hashes.push_back(st.hash);
    if (hashes != pending_) {
      pending_ = std::move(hashes);
      return true;
    }
    pending_.clear();
    auto decoded = Decode(reading, &problems);
    if (!decoded.ok()) {
      RecordFailure(reading, problems);
      event = Event::kError;
    } else {
      // Only comments or formatting changed: nothing for the core to do, unless it is waiting
      // to hear that an earlier error is gone.
      const bool same = last_good_ && **decoded == *last_good_ && !in_error_;
      RecordSuccess(reading, *decoded);
      if (!same) {
        event = Event::kUpdate;
        fragment = *decoded;
        reason = changed.size() == 1 ? "file " + changed[0] + " changed" : "files ";
        if (changed.size() > 1) {
          for (size_t i = 0; i < changed.size(); ++i) reason += (i ? ", " : "") + changed[i];
          reason += " changed";
        }
      }
    }
  }
  // The sink is called without our locks held, so it may call back into status().
  if (event == Event::kUpdate) sink.OnUpdate(name_, std::move(fragment), std::move(reason));
  if (event == Event::kError) sink.OnError(name_, std::move(problems));
  return false;
}

void FileSource::Run(UpdateSink* sink) {
  absl::MutexLock lock(&run_mu_);
  while (!stopping_) {
    run_mu_.Unlock();
    const bool settling = Poll(*sink);
    run_mu_.Lock();
    if (stopping_) break;
    const auto wait = settling ? std::min(options_.poll_interval, kSettle) : options_.poll_interval;
    run_cv_.WaitWithTimeout(&run_mu_, absl::Milliseconds(wait.count()));
  }
}

void FileSource::Start(UpdateSink& sink) {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&run_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, &sink] { Run(&sink); });
}

void FileSource::Stop() {
  {
    absl::MutexLock lock(&run_mu_);
    stopping_ = true;
    run_cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

SourceStatus FileSource::status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

}  // namespace tern::sources
