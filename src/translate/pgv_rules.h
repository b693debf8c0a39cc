#pragma once
// The value-level half of the protoc-gen-validate checks: one value against one rule set.
// The walk over messages (presence, repeated, maps, Any) is in pgv_validator.cc.
#include <string>
#include <vector>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>

#include "validate/validate.pb.h"

namespace tern::translate::pgv {

// Problems are phrases completed by the caller with the field path: "must be greater than 0".
using Phrases = std::vector<std::string>;

// A scalar (or enum) field of `m`: element `index` of a repeated field, or the singular value
// when index < 0. Rules of a type that does not fit the field are ignored, as protoc-gen-validate
// refuses to generate them in the first place.
void CheckScalar(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f, int index,
                 const validate::FieldRules& rules, Phrases* out);

// True when the scalar is its type's zero value ("" / 0 / false).
bool ScalarIsEmpty(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f, int index);

// A printable key of a scalar, used for `unique` and map paths.
std::string ScalarKey(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f, int index);

void CheckDuration(const google::protobuf::Duration& d, const validate::DurationRules& rules, Phrases* out);

void CheckString(const std::string& v, const validate::StringRules& rules, Phrases* out);

}  // namespace tern::translate::pgv
