# Generates C++ (protobuf + gRPC) for the Envoy API subset tern uses, from the protos shipped in
# the pinned npm package @grpc/grpc-js-xds (node_modules, installed by scripts/setup.sh).
# Nothing generated is committed. The closure of imports is computed here at configure time,
# so only what is needed is compiled, once, into the static library `envoy_api`.
#
# The bundled validate.proto lacks StringRules.ignore_empty, which four Envoy protos use; a copy
# of the proto tree is made in the build directory and that copy is patched.

# A build that only adds instrumentation to tern's own code (make fuzz, with clang) may link the
# main build's library instead of generating and compiling the same code again: set
# TERN_PREBUILT_ENVOY_API to that build directory (its libenvoy_api.a and proto_gen/ are used).
set(TERN_PREBUILT_ENVOY_API "" CACHE PATH "Build directory whose libenvoy_api.a and proto_gen/ to reuse")
if(TERN_PREBUILT_ENVOY_API)
  if(NOT EXISTS "${TERN_PREBUILT_ENVOY_API}/libenvoy_api.a")
    message(FATAL_ERROR "${TERN_PREBUILT_ENVOY_API}/libenvoy_api.a not found: build the main build first (make build)")
  endif()
  find_program(PROTOC protoc REQUIRED)
  find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  add_library(envoy_api STATIC IMPORTED GLOBAL)
  set_target_properties(envoy_api PROPERTIES IMPORTED_LOCATION "${TERN_PREBUILT_ENVOY_API}/libenvoy_api.a")
  target_include_directories(envoy_api SYSTEM INTERFACE "${TERN_PREBUILT_ENVOY_API}/proto_gen")
  target_link_libraries(envoy_api INTERFACE protobuf::libprotobuf gRPC::grpc++)
  return()
endif()

set(TERN_NPM_DEPS "${PROJECT_SOURCE_DIR}/node_modules/@grpc/grpc-js-xds/deps")
if(NOT EXISTS "${TERN_NPM_DEPS}/envoy-api/envoy")
  message(FATAL_ERROR "Envoy protos not found in ${TERN_NPM_DEPS}; run `make setup` (scripts/setup.sh) first")
endif()

set(PROTO_SRC "${CMAKE_BINARY_DIR}/proto_src")
set(PROTO_GEN "${CMAKE_BINARY_DIR}/proto_gen")
file(MAKE_DIRECTORY "${PROTO_SRC}" "${PROTO_GEN}")

# Search roots in the npm package, in protoc include order.
set(_roots envoy-api xds googleapis protoc-gen-validate)

set(TERN_ENVOY_ROOT_PROTOS
  envoy/service/discovery/v3/ads.proto
  envoy/service/discovery/v3/discovery.proto
  envoy/service/listener/v3/lds.proto
  envoy/service/route/v3/rds.proto
  envoy/service/cluster/v3/cds.proto
  envoy/service/endpoint/v3/eds.proto
  envoy/service/secret/v3/sds.proto
  envoy/service/status/v3/csds.proto
  envoy/config/listener/v3/listener.proto
  envoy/config/route/v3/route.proto
  envoy/config/cluster/v3/cluster.proto
  envoy/config/endpoint/v3/endpoint.proto
  envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto
  envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
  envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto
  envoy/extensions/filters/http/router/v3/router.proto
  envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto
  envoy/extensions/filters/http/fault/v3/fault.proto
  envoy/extensions/filters/http/on_demand/v3/on_demand.proto
  envoy/extensions/transport_sockets/tls/v3/tls.proto
  envoy/extensions/transport_sockets/tls/v3/secret.proto
  envoy/extensions/access_loggers/stream/v3/stream.proto
  envoy/extensions/access_loggers/file/v3/file.proto
  envoy/extensions/access_loggers/grpc/v3/als.proto
  envoy/extensions/upstreams/http/v3/http_protocol_options.proto
  envoy/config/trace/v3/zipkin.proto
  envoy/config/trace/v3/opentelemetry.proto
  envoy/config/bootstrap/v3/bootstrap.proto
  validate/validate.proto
)

# Well-known types come with libprotobuf-dev; never copied.
function(_tern_find_proto rel out)
  foreach(r ${_roots})
    if(EXISTS "${TERN_NPM_DEPS}/${r}/${rel}")
      set(${out} "${TERN_NPM_DEPS}/${r}/${rel}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(_queue ${TERN_ENVOY_ROOT_PROTOS})
set(_seen "")
while(_queue)
  list(POP_FRONT _queue _rel)
  if(_rel IN_LIST _seen OR _rel MATCHES "^google/protobuf/")
    continue()
  endif()
  list(APPEND _seen "${_rel}")
  _tern_find_proto("${_rel}" _abs)
  if(NOT _abs)
    message(FATAL_ERROR "proto import not found in npm package: ${_rel}")
  endif()
  file(STRINGS "${_abs}" _imports REGEX "^import ")
  foreach(_line ${_imports})
    string(REGEX REPLACE "^import +(public +|weak +)?\"([^\"]+)\".*$" "\\2" _imp "${_line}")
    list(APPEND _queue "${_imp}")
  endforeach()
  # Copy into the build tree (configure_file tracks changes and re-runs configure when they change).
  # validate.proto is patched below instead: copying it here would rewrite it on every configure
  # and regenerate everything that imports it.
  if(_rel STREQUAL "validate/validate.proto")
    set(_validate_src "${_abs}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_abs}")
  else()
    configure_file("${_abs}" "${PROTO_SRC}/${_rel}" COPYONLY)
  endif()
endwhile()
list(SORT _seen)
list(LENGTH _seen _n)
message(STATUS "Envoy API: ${_n} protos in the import closure")

# The patch: add StringRules.ignore_empty (field 26, as in upstream protoc-gen-validate). Written
# only when the result differs from what is there, so a re-configure regenerates nothing.
file(READ "${_validate_src}" _v)
if(NOT _v MATCHES "ignore_empty = 26")
  string(REPLACE "message StringRules {" "message StringRules {\n    optional bool ignore_empty = 26;  // added by tern's build\n" _v "${_v}")
endif()
set(_validate_dst "${PROTO_SRC}/validate/validate.proto")
set(_old "")
if(EXISTS "${_validate_dst}")
  file(READ "${_validate_dst}" _old)
endif()
if(NOT _old STREQUAL _v)
  file(WRITE "${_validate_dst}" "${_v}")
endif()

find_program(PROTOC protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(ENVOY_API_SRCS "")
set(ENVOY_API_HDRS "")
foreach(_rel ${_seen})
  string(REGEX REPLACE "\\.proto$" "" _base "${_rel}")
  set(_outs "${PROTO_GEN}/${_base}.pb.cc" "${PROTO_GEN}/${_base}.pb.h")
  set(_grpc_flags "")
  # Only service protos get gRPC stubs.
  if(_rel MATCHES "^envoy/service/")
    list(APPEND _outs "${PROTO_GEN}/${_base}.grpc.pb.cc" "${PROTO_GEN}/${_base}.grpc.pb.h")
    set(_grpc_flags "--grpc_out=${PROTO_GEN}" "--plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}")
  endif()
  add_custom_command(
    OUTPUT ${_outs}
    COMMAND ${PROTOC} -I "${PROTO_SRC}" "--cpp_out=${PROTO_GEN}" ${_grpc_flags} "${PROTO_SRC}/${_rel}"
    DEPENDS "${PROTO_SRC}/${_rel}"
    COMMENT "protoc ${_rel}"
    VERBATIM)
  foreach(_o ${_outs})
    if(_o MATCHES "\\.cc$")
      list(APPEND ENVOY_API_SRCS "${_o}")
    else()
      list(APPEND ENVOY_API_HDRS "${_o}")
    endif()
  endforeach()
endforeach()

add_library(envoy_api STATIC ${ENVOY_API_SRCS} ${ENVOY_API_HDRS})
target_include_directories(envoy_api SYSTEM PUBLIC "${PROTO_GEN}")
target_link_libraries(envoy_api PUBLIC protobuf::libprotobuf gRPC::grpc++)
# Generated code: optimize lightly, no warnings; it is compiled once and cached by ccache.
target_compile_options(envoy_api PRIVATE -O1 -w)
set(TERN_PROTO_SRC_DIR "${PROTO_SRC}" CACHE INTERNAL "")
