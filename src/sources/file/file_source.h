#pragma once
// A source made of services.yaml files.
//
// Watching is polling, on one thread: every poll_interval the files are stat()ed; only a changed
// (mtime, size), or an mtime too recent to trust (timestamps are coarse, so two writes in one
// tick can look identical), makes the source read them and compare content hashes. So an
// unchanged rewrite (a `touch`, a config tool rewriting the same bytes) is not an update. When
// content did change and a second read a moment later agrees (a half-written file is not
// acted on), all files are decoded and merged again: success → OnUpdate, failure →
// OnError (the core keeps the last good fragment). A broken state is remembered by its hashes,
// so it is reported once, not every poll.
//
// Secrets (`secrets:` in services.yaml) name PEM files. Those files are watched exactly like the
// YAML files (stat, hash, two agreeing reads), so rewriting a certificate and key (rotation) is
// an update: the secret keeps its name, its content changes. Their PEM is checked with OpenSSL
// before anything is accepted; a bad, missing or mismatched file fails the whole update.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sources/file/yaml_decoder.h"
#include "sources/source.h"
#include "sources/source_status.h"

namespace tern::sources {

class FileSource : public Source, public StatusReporter {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{200};
  };

  FileSource(std::string name, std::vector<std::string> paths);
  FileSource(std::string name, std::vector<std::string> paths, Options options);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  const std::string& name() const override { return name_; }
  absl::StatusOr<FragmentPtr> SyncOnce(std::vector<model::Problem>* problems) override;
  void Start(UpdateSink& sink) override;
  void Stop() override;
  SourceStatus status() const override;

 private:
  // What one poll saw of one file. `hash` is of the content read, or of the error.
  struct FileState {
    std::string path;
    bool exists = false;
    int64_t mtime_ns = 0;
    int64_t size = 0;
    std::string hash;
  };
  // Files are paths_ first, then the secret files their content references (sorted, unique).
  struct Reading {
    std::vector<FileState> states;
    std::vector<std::string> contents;
    std::vector<std::string> read_errors;  // "" when the file was read
    // Per entry of paths_: its decoding (nullopt on problems, which are kept).
    std::vector<std::optional<file::DecodedServices>> decoded;
    std::vector<std::vector<model::Problem>> decode_problems;
  };

  Reading ReadAll();
  // Fills the PEM of every secret of `decoded` from the reading; a problem per bad file.
  void LoadSecrets(const Reading& reading, const std::string& yaml_path, file::DecodedServices& decoded,
                   std::vector<model::Problem>* problems) const;
  // Decodes and merges; on failure `problems` gets every problem.
  absl::StatusOr<FragmentPtr> Decode(const Reading& reading, std::vector<model::Problem>* problems) const;
  // True when a stat() pass shows something that may have changed since `known_`.
  bool MaybeChanged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // One check; true when new content was seen but not yet acted on (re-check soon).
  bool Poll(UpdateSink& sink);
  void Run(UpdateSink* sink);
  void RecordSuccess(const Reading& reading, FragmentPtr fragment) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  void RecordFailure(const Reading& reading, const std::vector<model::Problem>& problems)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);

  const std::string name_;
  const std::vector<std::string> paths_;
  const Options options_;

  // Serializes SyncOnce and the watcher so that `known_` always matches `last_good_`.
  absl::Mutex sync_mu_;
  std::vector<FileState> known_ ABSL_GUARDED_BY(sync_mu_);  // empty until the first read
  FragmentPtr last_good_ ABSL_GUARDED_BY(sync_mu_);
  bool in_error_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::vector<std::string> pending_ ABSL_GUARDED_BY(sync_mu_);  // hashes awaiting a second look
  // The last decode of each YAML file by content hash: polling re-reads a recently changed file
  // for a while, and decoding a large file each time cost more than everything else.
  struct CachedDecode {
    std::string hash;
    absl::StatusOr<file::DecodedServices> decoded;
    std::vector<model::Problem> problems;
  };
  std::map<std::string, CachedDecode> decode_cache_;  // by path; used under sync_mu_

  mutable absl::Mutex status_mu_;
  SourceStatus status_ ABSL_GUARDED_BY(status_mu_);

  absl::Mutex run_mu_;
  absl::CondVar run_cv_;  // wakes the watcher at once on Stop()
  bool stopping_ ABSL_GUARDED_BY(run_mu_) = false;
  std::thread thread_;
};

}  // namespace tern::sources
