#pragma once
// A stream's subscribed names for one type, shared with every stream that subscribes to the
// same names: the Envoys of one gateway each name the same hundred clusters, so the list is
// stored once per distinct list (process-wide), not once per stream. Immutable; sorted, unique.
//
// Interning costs what building the list costs (a hash and, on a hit, a comparison); the table
// holds weak references, so a list lives as long as a stream uses it.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace tern::xds {

class NameList {
 public:
  NameList();  // empty
  // `sorted` must be sorted and unique.
  static NameList Intern(std::vector<std::string> sorted);

  const std::vector<std::string>& names() const { return *names_; }
  bool contains(const std::string& n) const { return std::binary_search(names_->begin(), names_->end(), n); }
  size_t size() const { return names_->size(); }
  bool empty() const { return names_->empty(); }
  auto begin() const { return names_->begin(); }
  auto end() const { return names_->end(); }

  // Distinct lists in the table (live or not yet swept): for tests.
  static size_t TableSize();

 private:
  explicit NameList(std::shared_ptr<const std::vector<std::string>> p) : names_(std::move(p)) {}
  std::shared_ptr<const std::vector<std::string>> names_;
};

}  // namespace tern::xds
