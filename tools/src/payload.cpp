#include "payload.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "exit_codes.hpp"

namespace zmesh::cli {

namespace {

// Closes the descriptor it was given (never stdin, which it is not given).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

Failure too_large(const std::string& source, std::size_t max_bytes) {
  return {kExitTooLarge, source + " is too large: more than " + std::to_string(max_bytes) +
                             " bytes, the most one message carries"};
}

constexpr std::size_t kChunk = std::size_t{1} << 20;    // the buffer grows by this much
constexpr std::size_t kMinRoom = std::size_t{1} << 16;  // grown when less is free

// Reads `fd` to its end, but never more than max_bytes + 1 bytes: whatever the source
// (a pipe, /dev/zero, a growing file), a payload over the limit is refused at once.
std::string read_bounded(int fd, const std::string& source, std::size_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      throw Failure(kExitFailure, "cannot read " + source + ": is a directory");
    if (S_ISREG(st.st_mode) && static_cast<std::uintmax_t>(st.st_size) > max_bytes) {
      throw too_large(source, max_bytes);
    }
  }
  std::string bytes;
  std::size_t used = 0;
  for (;;) {
    if (bytes.size() - used < kMinRoom) bytes.resize(std::min(used + kChunk, max_bytes + 1));
    if (used == bytes.size()) throw too_large(source, max_bytes);  // max_bytes + 1 read
    const ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Failure(kExitFailure, "cannot read " + source + ": " + std::strerror(errno));
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  bytes.resize(used);
  return bytes;
}

}  // namespace

std::string read_payload(const std::optional<std::string>& arg, std::size_t max_bytes) {
  if (!arg) return {};
  if (*arg == "-") return read_bounded(STDIN_FILENO, "the payload from stdin", max_bytes);
  if (arg->size() > 1 && arg->front() == '@') {
    const std::string path = arg->substr(1);
    const std::string source = "payload file '" + path + "'";
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
      throw Failure(kExitFailure, "cannot read " + source + ": " + std::strerror(errno));
    return read_bounded(fd.get(), source, max_bytes);
  }
  if (arg->size() > max_bytes) throw too_large("the payload argument", max_bytes);
  return *arg;
}

bool is_text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
      ++i;
      continue;
    }
    // Lead byte: length and the smallest code point it may encode (no overlongs).
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp < 0xa0) return false;  // C1 controls
    i += len;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string payload_line(std::string_view bytes) {
  if (!is_text(bytes)) return "base64:" + base64(bytes);
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out;
}

void add_payload(nlohmann::json& object, std::string_view bytes) {
  const bool text = is_text(bytes);
  object["payload"] = text ? std::string(bytes) : base64(bytes);
  object["encoding"] = text ? "text" : "base64";
}

}  // namespace zmesh::cli
