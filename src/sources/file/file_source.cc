#include "sources/file/file_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <utility>

#include "common/hash.h"
#include "sources/file/pem_check.h"
#include "sources/file/yaml_decoder.h"

namespace tern::sources {
namespace {

// File timestamps come from a coarse kernel clock, so a write landing in the same tick as the
// previous one keeps both mtime and (often) size. A file modified this recently is re-hashed
// on every poll until its timestamp is old enough to be trusted. A timestamp further than that
// in the future (the wall clock was stepped back after the write) is not racy: any new write
// gets a timestamp of now, which differs from it.
constexpr int64_t kRacyWindowNs = 2'000'000'000;

// How long new content must stay the same before it is decoded (see Poll).
constexpr std::chrono::milliseconds kSettle{50};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A path from services.yaml, relative to that file's directory unless absolute.
std::string ResolvePath(const std::string& yaml_path, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (std::filesystem::path(yaml_path).parent_path() / p).lexically_normal().string();
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

FileSource::Reading FileSource::ReadAll() {
  Reading r;
  auto read_one = [&r](const std::string& path) {
    FileState st;
    st.path = path;
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
  };
  for (const std::string& path : paths_) read_one(path);
  // The YAML says which PEM files belong to this source: decode it now to learn them.
  std::set<std::string> secret_paths;
  for (size_t i = 0; i < paths_.size(); ++i) {
    r.decode_problems.emplace_back();
    if (!r.read_errors[i].empty()) {
      r.decoded.emplace_back();
      continue;
    }
    CachedDecode& cached = decode_cache_[paths_[i]];
    if (cached.hash != r.states[i].hash) {
      cached.problems.clear();
      cached.decoded = file::DecodeServicesFile(r.contents[i], paths_[i], &cached.problems);
      cached.hash = r.states[i].hash;
    }
    r.decode_problems.back() = cached.problems;
    auto d = cached.decoded;
    if (!d.ok()) {
      r.decoded.emplace_back();
      continue;
    }
    for (const auto& f : d->secret_files) {
      for (const std::string* p : {&f.cert_file, &f.key_file, &f.ca_file}) {
        if (!p->empty()) secret_paths.insert(ResolvePath(paths_[i], *p));
      }
    }
    r.decoded.emplace_back(std::move(*d));
  }
  for (const std::string& path : secret_paths) read_one(path);
  return r;
}

void FileSource::LoadSecrets(const Reading& reading, const std::string& yaml_path,
                             file::DecodedServices& decoded, std::vector<model::Problem>* problems) const {
  // Reads one referenced file; a problem (naming the path as written) when it cannot be read.
  auto content_of = [&](const std::string& origin, const std::string& written) -> const std::string* {
    const std::string resolved = ResolvePath(yaml_path, written);
    for (size_t i = paths_.size(); i < reading.states.size(); ++i) {
      if (reading.states[i].path != resolved) continue;
      if (reading.read_errors[i].empty()) return &reading.contents[i];
      std::string where = written == resolved ? written : written + " (" + resolved + ")";
      problems->push_back({origin, where + ": cannot read file: " + reading.read_errors[i]});
      return nullptr;
    }
    problems->push_back({origin, written + ": cannot read file"});
    return nullptr;
  };
  auto check = [&](const std::string& origin, const std::string& file, const absl::Status& st) {
    if (st.ok()) return true;
    problems->push_back({origin, file + ": " + std::string(st.message())});
    return false;
  };
  for (const file::SecretFiles& f : decoded.secret_files) {
    model::Secret& secret = decoded.world.secrets.at(f.secret);
    if (secret.kind == model::Secret::Kind::kValidationContext) {
      const std::string* ca = content_of(f.origin, f.ca_file);
      if (ca && check(f.origin, f.ca_file, file::CheckCaBundle(*ca))) secret.trusted_ca_pem = *ca;
      continue;
    }
    const std::string* cert = content_of(f.origin, f.cert_file);
    const std::string* key = content_of(f.origin, f.key_file);
    const bool cert_ok = cert && check(f.origin, f.cert_file, file::CheckCertificateChain(*cert));
    const bool key_ok = key && check(f.origin, f.key_file, file::CheckPrivateKey(*key));
    if (!cert_ok || !key_ok) continue;
    if (!file::CheckKeyMatchesCertificate(*cert, *key).ok()) {
      problems->push_back({f.origin, f.key_file + ": private key does not match " + f.cert_file});
      continue;
    }
    secret.cert_chain_pem = *cert;
    secret.private_key_pem = *key;
  }
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
    if (!reading.decoded[i]) {
      found.insert(found.end(), reading.decode_problems[i].begin(), reading.decode_problems[i].end());
      continue;
    }
    file::DecodedServices decoded = *reading.decoded[i];
    LoadSecrets(reading, paths_[i], decoded, &found);
    worlds.push_back(std::move(decoded.world));
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
  if (known_.size() < paths_.size()) return true;
  const int64_t now = NowNs();
  // known_ holds the YAML files and the PEM files they referenced at the last read.
  for (const FileState& k : known_) {
    struct stat sb;
    const bool exists = ::stat(k.path.c_str(), &sb) == 0;
    if (exists != k.exists) return true;
    if (!exists) continue;
    const int64_t mtime = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
    if (mtime != k.mtime_ns || static_cast<int64_t>(sb.st_size) != k.size) return true;
    // Without the lower bound, a wall clock stepped back (by a day, say) made every file written
    // before the step look "just written" until the clock caught up: re-read on every poll.
    if (const int64_t age = now - mtime; age > -kRacyWindowNs && age < kRacyWindowNs) return true;
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
    std::map<std::string, std::string> known_hashes;
    for (const auto& k : known_) known_hashes[k.path] = k.hash;
    for (const auto& st : reading.states) {
      auto it = known_hashes.find(st.path);
      if (it == known_hashes.end() || it->second != st.hash) changed.push_back(st.path);
    }
    // A file no longer referenced (a secret removed) changes the YAML, which is listed already.
    if (changed.empty()) {
      known_ = reading.states;  // same bytes, newer timestamps: remember them, say nothing
      pending_.clear();
      return false;
    }
    // A writer that truncates and then writes can be caught in between, and an empty file is a
    // valid (empty) world: acting on it would withdraw every route. So new content is acted on
    // only once two reads in a row agree.
    std::vector<std::string> hashes;
    for (const auto& st : reading.states) hashes.push_back(st.path + "=" + st.hash);
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
