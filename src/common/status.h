#pragma once
// Status helpers used across layers. Anything that can fail on outside input returns
// absl::Status / absl::StatusOr; nothing throws across a layer boundary.
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TERN_CONCAT_INNER(a, b) a##b
#define TERN_CONCAT(a, b) TERN_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _st = (expr);               \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(TERN_CONCAT(_statusor_, __LINE__), lhs, expr)
