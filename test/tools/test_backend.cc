// tern-test-backend: a backend for end-to-end tests and the quickstart.
//
//   tern-test-backend --name NAME --grpc-port N [--http-port M]
//
// Serves tern.test.Echo/Call on 127.0.0.1:N, answering with its NAME, and optionally plain HTTP on
// 127.0.0.1:M answering every path with "NAME <path>\n". A port of 0 picks a free one; the chosen
// ports are printed as GRPC_PORT=<n> / HTTP_PORT=<n>, then READY once everything listens.
// SIGTERM or SIGINT stops it cleanly.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include <civetweb.h>
#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

namespace {

struct Flags {
  std::string name;
  int grpc_port = -1;
  int http_port = -1;  // -1: no HTTP server
};

void Usage() {
  std::cerr << "usage: tern-test-backend --name NAME --grpc-port N [--http-port M]\n";
  std::exit(2);
}

bool ParsePort(const char* s, int* out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0 || v > 65535) return false;
  *out = static_cast<int>(v);
  return true;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--name") {
      f.name = value();
    } else if (a == "--grpc-port") {
      if (!ParsePort(value(), &f.grpc_port)) Usage();
    } else if (a == "--http-port") {
      if (!ParsePort(value(), &f.http_port)) Usage();
    } else {
      Usage();
    }
  }
  if (f.name.empty() || f.grpc_port < 0) Usage();
  return f;
}

class EchoService final : public tern::test::Echo::Service {
 public:
  explicit EchoService(std::string name) : name_(std::move(name)) {}
  grpc::Status Call(grpc::ServerContext*, const tern::test::EchoRequest* req,
                    tern::test::EchoReply* reply) override {
    reply->set_backend(name_);
    reply->set_message(req->message());
    return grpc::Status::OK;
  }

 private:
  const std::string name_;
};

int HandleHttp(mg_connection* conn, void* cbdata) {
  const auto* name = static_cast<const std::string*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  std::string body = *name + " " + (info->local_uri ? info->local_uri : "/") + "\n";
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            body.size());
  mg_write(conn, body.data(), body.size());
  return 200;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);

  // Signals are taken synchronously by sigwait below; block them before any thread starts so that
  // every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  EchoService service(flags.name);
  int grpc_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(flags.grpc_port),
                           grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) {
    std::cerr << "tern-test-backend: cannot listen on 127.0.0.1:" << flags.grpc_port << "\n";
    return 1;
  }
  std::cout << "GRPC_PORT=" << grpc_port << std::endl;

  mg_context* http = nullptr;
  if (flags.http_port >= 0) {
    mg_init_library(0);
    std::string ports = "127.0.0.1:" + std::to_string(flags.http_port);
    const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "4", nullptr};
    mg_callbacks callbacks{};
    http = mg_start(&callbacks, nullptr, options);
    if (http == nullptr) {
      std::cerr << "tern-test-backend: cannot listen on " << ports << "\n";
      return 1;
    }
    mg_set_request_handler(http, "/", HandleHttp, &flags.name);
    mg_server_port sp[4];
    int n = mg_get_server_ports(http, 4, sp);
    if (n < 1) {
      std::cerr << "tern-test-backend: civetweb reported no listening port\n";
      return 1;
    }
    std::cout << "HTTP_PORT=" << sp[0].port << std::endl;
  }
  std::cout << "READY" << std::endl;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  if (http != nullptr) {
    mg_stop(http);
    mg_exit_library();
  }
  server->Shutdown();
  return 0;
}
