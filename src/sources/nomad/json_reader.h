#pragma once
// Internal to sources/nomad: type-checked reading of Nomad's JSON answers, shared by the decoders
// (decoders.cc, deployments.cc, event_stream.cc). The first error wins and names the endpoint and
// the JSON path ("/v1/job/web/deployment: TaskGroups.web.DesiredCanaries: expected a non-negative
// integer"). Absent or null keeps the default: Go encodes an empty slice or map as null. Nothing
// here throws: every nlohmann access is behind a type check.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace tern::sources::nomad::internal {

using json = nlohmann::json;

inline absl::Status Bad(const std::string& endpoint, const std::string& path, const std::string& msg) {
  return absl::InvalidArgumentError(endpoint + ": " + (path.empty() ? "" : path + ": ") + msg);
}

inline std::string Join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
inline std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

inline const json* Field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// Parses `text`; nullopt (and `status` set) when it is not JSON.
inline std::optional<json> Parse(const std::string& text, const std::string& endpoint, absl::Status* status) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *status = Bad(endpoint, "", "malformed JSON");
    return std::nullopt;
  }
  return j;
}

struct Reader {
  std::string endpoint;
  absl::Status status = absl::OkStatus();

  bool Fail(const std::string& path, const std::string& msg) {
    if (status.ok()) status = Bad(endpoint, path, msg);
    return false;
  }
  bool Object(const json& v, const std::string& path) { return v.is_object() || Fail(path, "expected an object"); }
  bool String(const json& obj, const char* key, const std::string& path, std::string* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_string()) return Fail(Join(path, key), "expected a string");
    *out = v->get<std::string>();
    return true;
  }
  bool RequiredString(const json& obj, const char* key, const std::string& path, std::string* out) {
    if (!String(obj, key, path, out)) return false;
    return !out->empty() || Fail(Join(path, key), "missing");
  }
  bool Bool(const json& obj, const char* key, const std::string& path, bool* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_boolean()) return Fail(Join(path, key), "expected true or false");
    *out = v->get<bool>();
    return true;
  }
  // true, false or null (absent) → nullopt.
  bool OptionalBool(const json& obj, const char* key, const std::string& path, std::optional<bool>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_boolean()) return Fail(Join(path, key), "expected true, false or null");
    *out = v->get<bool>();
    return true;
  }
  bool Uint64(const json& obj, const char* key, const std::string& path, uint64_t* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      return Fail(Join(path, key), "expected a non-negative integer");
    *out = v->get<uint64_t>();
    return true;
  }
  bool Uint32(const json& obj, const char* key, const std::string& path, uint32_t* out) {
    uint64_t v = *out;
    if (!Uint64(obj, key, path, &v)) return false;
    if (v > UINT32_MAX) return Fail(Join(path, key), "expected an integer below 2^32");
    *out = static_cast<uint32_t>(v);
    return true;
  }
  bool Int64(const json& obj, const char* key, const std::string& path, int64_t* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX))
      return Fail(Join(path, key), "expected an integer");
    *out = v->get<int64_t>();
    return true;
  }
  bool Port(const json& obj, const char* key, const std::string& path, uint32_t* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > 65535)
      return Fail(Join(path, key), "expected an integer in 0..65535");
    *out = static_cast<uint32_t>(v->get<int64_t>());
    return true;
  }
  bool Strings(const json& obj, const char* key, const std::string& path, std::vector<std::string>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_array()) return Fail(Join(path, key), "expected a list of strings");
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) return Fail(Index(Join(path, key), i), "expected a string");
      out->push_back((*v)[i].get<std::string>());
    }
    return true;
  }
  // Nomad's map[string]string (job and group Meta).
  bool StringMap(const json& obj, const char* key, const std::string& path, std::map<std::string, std::string>* out) {
    const json* v = Field(obj, key);
    if (!v) return true;
    if (!v->is_object()) return Fail(Join(path, key), "expected an object of strings");
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (!it.value().is_string()) return Fail(Join(Join(path, key), it.key()), "expected a string");
      (*out)[it.key()] = it.value().get<std::string>();
    }
    return true;
  }
};

}  // namespace tern::sources::nomad::internal

namespace tern::sources::nomad {
struct Registration;
struct Deployment;
struct Allocation;
namespace internal {
// One object each, as in a list answer or an event's Payload (decoders.cc, deployments.cc).
bool ReadRegistration(Reader& r, const json& e, const std::string& path, Registration* out);
bool ReadDeployment(Reader& r, const json& d, const std::string& path, Deployment* out);
bool ReadAllocation(Reader& r, const json& a, const std::string& path, Allocation* out);
}  // namespace internal
}  // namespace tern::sources::nomad
