#include "xds/name_list.h"

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace tern::xds {

namespace {
using List = std::vector<std::string>;

const std::shared_ptr<const List>& Empty() {
  static const auto* empty = new std::shared_ptr<const List>(std::make_shared<const List>());
  return *empty;
}

// By hash of the list; on a collision between two live lists the second is simply not shared.
// Entries whose list died are replaced when their hash comes again, and swept when the table
// has doubled since the last sweep (so it stays within twice the live lists, amortized O(1)).
class Table {
 public:
  std::shared_ptr<const List> Intern(List names) {
    const size_t h = absl::HashOf(names);
    absl::MutexLock l(&mu_);
    auto [it, inserted] = entries_.try_emplace(h);
    if (!inserted) {
      if (auto live = it->second.lock()) {
        if (*live == names) return live;
        return std::make_shared<const List>(std::move(names));  // collision: not shared
      }
    }
    auto list = std::make_shared<const List>(std::move(names));
    it->second = list;
    if (entries_.size() >= 2 * swept_size_) {
      absl::erase_if(entries_, [](const auto& e) { return e.second.expired(); });
      swept_size_ = std::max<size_t>(entries_.size(), 512);
    }
    return list;
  }
  size_t size() {
    absl::MutexLock l(&mu_);
    return entries_.size();
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<size_t, std::weak_ptr<const List>> entries_ ABSL_GUARDED_BY(mu_);
  size_t swept_size_ ABSL_GUARDED_BY(mu_) = 512;
};

Table& GetTable() {
  static auto* table = new Table();
  return *table;
}
}  // namespace

NameList::NameList() : names_(Empty()) {}

NameList NameList::Intern(std::vector<std::string> sorted) {
  if (sorted.empty()) return NameList();
  return NameList(GetTable().Intern(std::move(sorted)));
}

size_t NameList::TableSize() { return GetTable().size(); }

}  // namespace tern::xds
