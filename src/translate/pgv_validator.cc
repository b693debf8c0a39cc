#include "translate/pgv_validator.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "translate/pgv_rules.h"
#include "validate/validate.pb.h"

namespace tern::translate {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Walks a message the way protoc-gen-validate's generated Validate() does:
//  - a message type marked `disabled` (or `ignored`) is not checked at all;
//  - a singular message field that is unset is only checked for `required`; a set one is
//    checked against its own rules and then recursed into (unless `skip`);
//  - a scalar with implicit presence is always checked (an empty name fails min_len), but one
//    with explicit presence (oneof member, proto3 optional) only when set;
//  - `ignore_empty` skips every rule of a field whose value is empty;
//  - repeated and map fields: size rules, then items / keys / values rules per element.
class Walker {
 public:
  Walker(std::string resource, std::vector<std::string>* errors)
      : resource_(std::move(resource)), errors_(errors) {}

  void Walk(const Message& m, const std::string& path) {
    const Descriptor* d = m.GetDescriptor();
    if (Disabled(d)) return;
    if (d->full_name() == "google.protobuf.Any") {
      WalkAny(m, path);
      return;
    }
    const auto* refl = m.GetReflection();
    for (int i = 0; i < d->oneof_decl_count(); ++i) {
      const auto* o = d->oneof_decl(i);
      if (o->is_synthetic() || !o->options().GetExtension(validate::required)) continue;
      if (!refl->HasOneof(m, o)) {
        std::vector<std::string> names;
        for (int j = 0; j < o->field_count(); ++j) names.push_back(o->field(j)->name());
        Add(Join(path, o->name()), "is required (set one of: " + absl::StrJoin(names, ", ") + ")");
      }
    }
    for (int i = 0; i < d->field_count(); ++i) Field(m, d->field(i), Join(path, d->field(i)->name()));
  }

 private:
  static std::string Join(const std::string& path, const std::string& name) {
    return path.empty() ? name : path + "." + name;
  }

  static bool Disabled(const Descriptor* d) {
    const auto& opts = d->options();
    if (opts.GetExtension(validate::disabled)) return true;
    // `ignored` exists only in newer validate.proto versions; honour it when it is there.
    static const FieldDescriptor* ignored =
        google::protobuf::DescriptorPool::generated_pool()->FindExtensionByName("validate.ignored");
    return ignored != nullptr && opts.GetReflection()->HasField(opts, ignored) &&
           opts.GetReflection()->GetBool(opts, ignored);
  }

  void Add(const std::string& path, const std::string& phrase) {
    errors_->push_back(resource_ + ": " + path + ": " + phrase);
  }
  void AddAll(const std::string& path, const pgv::Phrases& phrases) {
    for (const auto& p : phrases) Add(path, p);
  }

  // The rule set of the field's kind (FieldRules.type), for the generic `ignore_empty` flag.
  static bool IgnoreEmpty(const validate::FieldRules& rules) {
    if (rules.type_case() == validate::FieldRules::TYPE_NOT_SET) return false;
    const auto* typed_field = rules.GetDescriptor()->FindFieldByNumber(rules.type_case());
    const Message& typed = rules.GetReflection()->GetMessage(rules, typed_field);
    const auto* flag = typed.GetDescriptor()->FindFieldByName("ignore_empty");
    return flag != nullptr && flag->cpp_type() == FieldDescriptor::CPPTYPE_BOOL &&
           typed.GetReflection()->GetBool(typed, flag);
  }

  void Field(const Message& m, const FieldDescriptor* f, const std::string& path) {
    const validate::FieldRules* rules = nullptr;
    if (f->options().HasExtension(validate::rules)) rules = &f->options().GetExtension(validate::rules);
    if (rules != nullptr && rules->message().skip()) return;
    if (f->is_map()) {
      Map(m, f, rules, path);
    } else if (f->is_repeated()) {
      Repeated(m, f, rules, path);
    } else {
      Element(m, f, -1, rules, path);
    }
  }

  void Repeated(const Message& m, const FieldDescriptor* f, const validate::FieldRules* rules,
                const std::string& path) {
    const int n = m.GetReflection()->FieldSize(m, f);
    const validate::FieldRules* items = nullptr;
    if (rules != nullptr && rules->has_repeated()) {
      const auto& r = rules->repeated();
      if (n == 0 && IgnoreEmpty(*rules)) return;
      if (r.has_min_items() && static_cast<uint64_t>(n) < r.min_items()) {
        Add(path, absl::StrCat("must have at least ", r.min_items(), " item(s)"));
      }
      if (r.has_max_items() && static_cast<uint64_t>(n) > r.max_items()) {
        Add(path, absl::StrCat("must have at most ", r.max_items(), " item(s)"));
      }
      if (r.unique() && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        std::set<std::string> seen;
        for (int i = 0; i < n; ++i) {
          if (!seen.insert(pgv::ScalarKey(m, f, i)).second) {
            Add(absl::StrCat(path, "[", i, "]"), "must be unique");
          }
        }
      }
      if (r.has_items()) items = &r.items();
      if (items != nullptr && items->message().skip()) return;
    }
    for (int i = 0; i < n; ++i) Element(m, f, i, items, absl::StrCat(path, "[", i, "]"));
  }

  void Map(const Message& m, const FieldDescriptor* f, const validate::FieldRules* rules, const std::string& path) {
    const auto* refl = m.GetReflection();
    const int n = refl->FieldSize(m, f);
    const validate::FieldRules* keys = nullptr;
    const validate::FieldRules* values = nullptr;
    if (rules != nullptr && rules->has_map()) {
      const auto& r = rules->map();
      if (n == 0 && IgnoreEmpty(*rules)) return;
      if (r.has_min_pairs() && static_cast<uint64_t>(n) < r.min_pairs()) {
        Add(path, absl::StrCat("must have at least ", r.min_pairs(), " pair(s)"));
      }
      if (r.has_max_pairs() && static_cast<uint64_t>(n) > r.max_pairs()) {
        Add(path, absl::StrCat("must have at most ", r.max_pairs(), " pair(s)"));
      }
      if (r.has_keys()) keys = &r.keys();
      if (r.has_values()) values = &r.values();
    }
    const FieldDescriptor* key_field = f->message_type()->map_key();
    const FieldDescriptor* value_field = f->message_type()->map_value();
    // Map iteration order is unspecified; entries are visited by key so errors come out stable.
    std::vector<std::pair<std::string, const Message*>> entries;
    for (int i = 0; i < n; ++i) {
      const Message& e = refl->GetRepeatedMessage(m, f, i);
      entries.emplace_back(pgv::ScalarKey(e, key_field, -1), &e);
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, entry] : entries) {
      const std::string p = absl::StrCat(path, "[\"", key, "\"]");
      if (keys != nullptr) Element(*entry, key_field, -1, keys, p);
      if (values != nullptr && values->message().skip()) continue;
      Element(*entry, value_field, -1, values, p);
    }
  }

  // One value: the singular field (index < 0) or one element of a repeated field.
  void Element(const Message& m, const FieldDescriptor* f, int index, const validate::FieldRules* rules,
               const std::string& path) {
    const auto* refl = m.GetReflection();
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      if (index < 0 && f->has_presence() && !refl->HasField(m, f)) return;
      if (rules == nullptr || (IgnoreEmpty(*rules) && pgv::ScalarIsEmpty(m, f, index))) return;
      pgv::Phrases phrases;
      pgv::CheckScalar(m, f, index, *rules, &phrases);
      AddAll(path, phrases);
      return;
    }
    if (index < 0 && !refl->HasField(m, f)) {
      // An unset oneof member is just another member being chosen: its `required` only says
      // that, when chosen, it must not be empty.
      const auto* oneof = f->real_containing_oneof();
      if (rules != nullptr && Required(*rules) && oneof == nullptr) Add(path, "is required");
      return;
    }
    const Message& sub = index < 0 ? refl->GetMessage(m, f) : refl->GetRepeatedMessage(m, f, index);
    if (rules != nullptr) MessageRules(sub, *rules, path);
    Walk(sub, path);
  }

  static bool Required(const validate::FieldRules& r) {
    return r.message().required() || (r.has_duration() && r.duration().required()) ||
           (r.has_any() && r.any().required()) || (r.has_timestamp() && r.timestamp().required());
  }

  // Rules that apply to a set message value as a whole: well-known types and wrappers.
  void MessageRules(const Message& sub, const validate::FieldRules& rules, const std::string& path) {
    const std::string& type = sub.GetDescriptor()->full_name();
    pgv::Phrases phrases;
    if (rules.has_duration() && type == "google.protobuf.Duration") {
      pgv::CheckDuration(static_cast<const google::protobuf::Duration&>(sub), rules.duration(), &phrases);
    } else if (rules.has_any() && type == "google.protobuf.Any") {
      const std::string url = sub.GetReflection()->GetString(sub, sub.GetDescriptor()->FindFieldByName("type_url"));
      const auto& in = rules.any().in();
      const auto& not_in = rules.any().not_in();
      if (!in.empty() && std::find(in.begin(), in.end(), url) == in.end()) {
        phrases.push_back("type must be one of [" + absl::StrJoin(in, ", ") + "]");
      }
      if (std::find(not_in.begin(), not_in.end(), url) != not_in.end()) {
        phrases.push_back("type must not be " + url);
      }
    } else if (sub.GetDescriptor()->file()->name() == "google/protobuf/wrappers.proto") {
      // A wrapper carries the rules of the scalar it wraps ({uint32: {gte: 1}} on a UInt32Value).
      const FieldDescriptor* value = sub.GetDescriptor()->FindFieldByName("value");
      if (value != nullptr && !(IgnoreEmpty(rules) && pgv::ScalarIsEmpty(sub, value, -1))) {
        pgv::CheckScalar(sub, value, -1, rules, &phrases);
      }
    }
    AddAll(path, phrases);
  }

  void WalkAny(const Message& any, const std::string& path) {
    const auto* d = any.GetDescriptor();
    const std::string url = any.GetReflection()->GetString(any, d->FindFieldByName("type_url"));
    if (url.empty()) return;
    const std::string type = url.substr(url.rfind('/') + 1);
    const Descriptor* inner = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
    if (inner == nullptr) {
      Add(path, "unknown type " + url);
      return;
    }
    const Message* prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(inner);
    std::unique_ptr<Message> unpacked(prototype->New());
    if (!unpacked->ParseFromString(any.GetReflection()->GetString(any, d->FindFieldByName("value")))) {
      Add(path, "cannot be decoded as " + type);
      return;
    }
    Walk(*unpacked, path);
  }

  std::string resource_;
  std::vector<std::string>* errors_;
};

// "Cluster 'web'", from the resource's name (or cluster_name, for a ClusterLoadAssignment).
std::string ResourceLabel(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  for (const char* field : {"name", "cluster_name"}) {
    const FieldDescriptor* f = d->FindFieldByName(field);
    if (f != nullptr && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) {
      return d->name() + " '" + m.GetReflection()->GetString(m, f) + "'";
    }
  }
  return d->name();
}

}  // namespace

std::vector<std::string> ValidateResource(const Message& m) {
  std::vector<std::string> errors;
  Walker(ResourceLabel(m), &errors).Walk(m, "");
  return errors;
}

}  // namespace tern::translate
