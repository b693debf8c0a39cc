#include "app/admin_token.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tern::app {

absl::StatusOr<std::string> ReadAdminToken(const std::string& path) {
  const std::string where = "admin.token_file " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(where + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(where + ": cannot read");
  std::string token = text.str();
  const char* space = " \t\r\n";
  size_t begin = token.find_first_not_of(space);
  if (begin == std::string::npos) return absl::InvalidArgumentError(where + ": the file is empty");
  token = token.substr(begin, token.find_last_not_of(space) + 1 - begin);
  if (token.size() > 4096) return absl::InvalidArgumentError(where + ": the token is longer than 4096 bytes");
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(where + ": the token must be one line of visible ASCII characters");
    }
  }
  return token;
}

bool IsLoopbackListenAddress(const std::string& host_port) {
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "::1";
}

}  // namespace tern::app
