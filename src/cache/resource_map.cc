#include "cache/resource_map.h"

namespace tern::cache {

uint64_t ResourceMap::Priority(std::string_view name) {
  // FNV-1a, then a finalizer that spreads the bits (the priority only shapes the tree).
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

ResourceMap::NodePtr ResourceMap::Make(value_type kv, uint64_t priority, NodePtr left, NodePtr right) {
  return std::make_shared<const Node>(Node{std::move(kv), priority, std::move(left), std::move(right)});
}

ResourceMap ResourceMap::FromSorted(const std::vector<ResourcePtr>& sorted) {
  // A Cartesian tree over the sorted names: one pass with a stack of the right spine. Nodes are
  // still private to this function while they are linked, so they are built mutable here.
  struct Building {
    value_type kv;
    uint64_t priority;
    std::shared_ptr<Building> left, right;
  };
  std::vector<std::shared_ptr<Building>> spine;
  for (const auto& r : sorted) {
    auto n = std::make_shared<Building>(Building{{r->name, r}, Priority(r->name), nullptr, nullptr});
    std::shared_ptr<Building> last;
    while (!spine.empty() && spine.back()->priority < n->priority) {
      last = spine.back();
      spine.pop_back();
    }
    n->left = last;
    if (!spine.empty()) spine.back()->right = n;
    spine.push_back(n);
  }
  auto freeze = [](auto& self, const std::shared_ptr<Building>& b) -> NodePtr {
    if (!b) return nullptr;
    NodePtr l = self(self, b->left);
    NodePtr r = self(self, b->right);
    return Make(b->kv, b->priority, std::move(l), std::move(r));
  };
  ResourceMap out;
  if (!spine.empty()) out.root_ = freeze(freeze, spine.front());
  out.size_ = sorted.size();
  return out;
}

std::pair<ResourceMap::NodePtr, ResourceMap::NodePtr> ResourceMap::Split(const NodePtr& t, std::string_view name) {
  // Names < name go left, > name right; `name` itself is not in t.
  if (!t) return {nullptr, nullptr};
  if (name < t->kv.first) {
    auto [l, r] = Split(t->left, name);
    return {l, Make(t->kv, t->priority, r, t->right)};
  }
  auto [l, r] = Split(t->right, name);
  return {Make(t->kv, t->priority, t->left, l), r};
}

ResourceMap::NodePtr ResourceMap::Insert(const NodePtr& t, const NodePtr& leaf, bool* replaced) {
  if (!t) return leaf;
  const std::string& name = leaf->kv.first;
  if (name == t->kv.first) {
    *replaced = true;
    return Make(leaf->kv, t->priority, t->left, t->right);
  }
  if (leaf->priority > t->priority) {
    // Not in t: a node of this name would have this priority, and t's subtree is below t's.
    auto [l, r] = Split(t, name);
    return Make(leaf->kv, leaf->priority, l, r);
  }
  if (name < t->kv.first) return Make(t->kv, t->priority, Insert(t->left, leaf, replaced), t->right);
  return Make(t->kv, t->priority, t->left, Insert(t->right, leaf, replaced));
}

ResourceMap::NodePtr ResourceMap::Join(const NodePtr& a, const NodePtr& b) {
  if (!a) return b;
  if (!b) return a;
  if (a->priority > b->priority) return Make(a->kv, a->priority, a->left, Join(a->right, b));
  return Make(b->kv, b->priority, Join(a, b->left), b->right);
}

ResourceMap::NodePtr ResourceMap::Remove(const NodePtr& t, std::string_view name) {
  if (!t) return nullptr;
  if (name == t->kv.first) return Join(t->left, t->right);
  if (name < t->kv.first) return Make(t->kv, t->priority, Remove(t->left, name), t->right);
  return Make(t->kv, t->priority, t->left, Remove(t->right, name));
}

ResourceMap ResourceMap::Set(ResourcePtr r) const {
  ResourceMap out;
  uint64_t priority = Priority(r->name);
  // A name already present sits where the heap order puts its priority, so Insert reaches it
  // along the search path before any split could skip it.
  bool replaced = false;
  out.root_ = Insert(root_, Make({r->name, std::move(r)}, priority, nullptr, nullptr), &replaced);
  out.size_ = size_ + (replaced ? 0 : 1);
  return out;
}

ResourceMap ResourceMap::Erase(std::string_view name) const {
  if (!contains(name)) return *this;
  ResourceMap out;
  out.root_ = Remove(root_, name);
  out.size_ = size_ - 1;
  return out;
}

const ResourcePtr* ResourceMap::Lookup(std::string_view name) const {
  const Node* n = root_.get();
  while (n) {
    if (name == n->kv.first) return &n->kv.second;
    n = name < n->kv.first ? n->left.get() : n->right.get();
  }
  return nullptr;
}

void ResourceMap::const_iterator::DescendLeft(const Node* n) {
  while (n) {
    path_.push_back(n);
    n = n->left.get();
  }
}

ResourceMap::const_iterator& ResourceMap::const_iterator::operator++() {
  const Node* n = path_.back();
  path_.pop_back();
  DescendLeft(n->right.get());
  return *this;
}

ResourceMap::const_iterator ResourceMap::begin() const {
  const_iterator it;
  it.DescendLeft(root_.get());
  return it;
}

ResourceMap::const_iterator ResourceMap::find(std::string_view name) const {
  const_iterator it;
  const Node* n = root_.get();
  while (n) {
    if (name == n->kv.first) {
      it.path_.push_back(n);
      return it;
    }
    if (name < n->kv.first) {
      it.path_.push_back(n);  // comes after whatever is found in its left subtree
      n = n->left.get();
    } else {
      n = n->right.get();
    }
  }
  return end();
}

ResourceMap::const_iterator ResourceMap::lower_bound(std::string_view name) const {
  const_iterator it;
  const Node* n = root_.get();
  while (n) {
    if (name <= n->kv.first) {
      it.path_.push_back(n);
      n = n->left.get();
    } else {
      n = n->right.get();
    }
  }
  return it;
}

}  // namespace tern::cache
