#pragma once
// An immutable map from resource name to resource, ordered by name, that snapshots share: an
// update returns a new map that copies only the O(log n) nodes on the path to the changed name
// and shares every other node with the map it came from. A snapshot derived from its predecessor
// therefore costs what changed, not what the snapshot holds.
//
// It is a persistent treap: a binary search tree by name whose node priorities are hashes of the
// names, so that its expected depth is O(log n) and its shape depends only on its content.
// Iteration is in name order (responses list resources in that order).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/resource.h"

namespace tern::cache {

class ResourceMap {
 public:
  using value_type = std::pair<const std::string, ResourcePtr>;

 private:
  struct Node {
    value_type kv;
    uint64_t priority;
    std::shared_ptr<const Node> left, right;
  };
  using NodePtr = std::shared_ptr<const Node>;

 public:
  class const_iterator {
   public:
    using value_type = ResourceMap::value_type;
    using reference = const value_type&;
    using pointer = const value_type*;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    const_iterator() = default;
    reference operator*() const { return path_.back()->kv; }
    pointer operator->() const { return &path_.back()->kv; }
    const_iterator& operator++();
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& o) const {
      return path_.empty() ? o.path_.empty() : (!o.path_.empty() && path_.back() == o.path_.back());
    }

   private:
    friend class ResourceMap;
    void DescendLeft(const Node* n);
    // The current node last; below it the ancestors whose left subtree holds it (the nodes that
    // come after the current one, nearest first).
    std::vector<const Node*> path_;
  };
  using iterator = const_iterator;

  ResourceMap() = default;
  // From resources sorted by name with unique names: O(n).
  static ResourceMap FromSorted(const std::vector<ResourcePtr>& sorted);

  // A map with `r` added, or replacing the resource of the same name.
  [[nodiscard]] ResourceMap Set(ResourcePtr r) const;
  // A map without `name` (the same map when it is absent).
  [[nodiscard]] ResourceMap Erase(std::string_view name) const;

  const_iterator find(std::string_view name) const;
  const_iterator lower_bound(std::string_view name) const;  // the first name >= name
  bool contains(std::string_view name) const { return Lookup(name) != nullptr; }
  // The resource of that name, or null.
  const ResourcePtr* Lookup(std::string_view name) const;
  const_iterator begin() const;
  const_iterator end() const { return {}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static uint64_t Priority(std::string_view name);
  static NodePtr Make(value_type kv, uint64_t priority, NodePtr left, NodePtr right);
  static NodePtr Insert(const NodePtr& t, const NodePtr& leaf, bool* replaced);
  static std::pair<NodePtr, NodePtr> Split(const NodePtr& t, std::string_view name);
  static NodePtr Join(const NodePtr& a, const NodePtr& b);
  static NodePtr Remove(const NodePtr& t, std::string_view name);

  NodePtr root_;
  size_t size_ = 0;
};

}  // namespace tern::cache
