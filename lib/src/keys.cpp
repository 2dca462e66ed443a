#include "zmesh/core/keys.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "zmesh/core/errors.hpp"

namespace zmesh {
namespace {

constexpr std::size_t kZ85KeyChars = 40;
constexpr const char* kSecretSuffix = "_secret";

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  throw Error(errc::invalid_argument, "certificate '" + path + "': " + why);
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

/// The ZPL subset zcert writes: top-level section names, indented `key = "value"` lines,
/// '#' comments. Returns section -> key -> value.
std::map<std::string, std::map<std::string, std::string>> parse_zpl(const std::string& path,
                                                                    const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    const bool indented = line.front() == ' ' || line.front() == '\t';
    if (!indented) {
      section = content;
      out[section];
      continue;
    }
    const auto eq = content.find('=');
    if (eq == std::string::npos || section.empty()) {
      bad(path, "line " + std::to_string(number) + " is not 'name = \"value\"' in a section");
    }
    const std::string key = trim(std::string_view(content).substr(0, eq));
    std::string value = trim(std::string_view(content).substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      const auto close = value.find('"', 1);
      if (close == std::string::npos)
        bad(path, "line " + std::to_string(number) + ": no closing '\"'");
      value = value.substr(1, close - 1);
    } else if (const auto hash = value.find('#'); hash != std::string::npos) {
      value = trim(std::string_view(value).substr(0, hash));
    }
    out[section][key] = value;
  }
  return out;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M:%S", &tm);
  return buf.data();
}

std::string render(const Certificate& cert, bool secret) {
  std::string s = "#   ****  Generated on " + today() + " by zmesh  ****\n";
  if (secret) {
    s += "#   ZeroMQ CURVE **Secret** Certificate\n"
         "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n";
  } else {
    s += "#   ZeroMQ CURVE Public Certificate\n"
         "#   Exchange securely, or use a secure mechanism to verify the contents\n"
         "#   of this file after exchange.\n";
  }
  s += "\nmetadata\n";
  for (const auto& [k, v] : cert.metadata) {
    s += "    ";
    s += k;
    s += " = \"";
    s += v;
    s += "\"\n";
  }
  s += "curve\n    public-key = \"" + cert.public_key + "\"\n";
  if (secret) s += "    secret-key = \"" + cert.secret_key + "\"\n";
  return s;
}

void write_new(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) bad(path, "exists already; remove it or choose another name");
    bad(path, std::string("cannot create: ") + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fchmod(fd, mode) != 0)
    bad(path, std::string("cannot set its mode: ") + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      bad(path, std::string("cannot write: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

bool curve_available() noexcept {
  return zmq_has("curve") != 0;
}

bool is_z85_key(std::string_view key) noexcept {
  if (key.size() != kZ85KeyChars) return false;
  const std::string text(key);
  std::array<std::uint8_t, 32> raw{};
  return zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

Certificate generate_certificate(const std::string& name) {
  if (!curve_available()) {
    throw Error(errc::invalid_argument,
                "this libzmq has no CURVE support (zmq_has(\"curve\") is false): rebuild "
                "libzmq with libsodium");
  }
  std::array<char, kZ85KeyChars + 1> pub{};
  std::array<char, kZ85KeyChars + 1> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw Error(errc::invalid_argument,
                std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  }
  Certificate c;
  c.public_key = pub.data();
  c.secret_key = sec.data();
  if (!name.empty()) c.metadata["name"] = name;
  return c;
}

void save_certificate(const Certificate& cert, const std::string& path) {
  if (!is_z85_key(cert.public_key) || !is_z85_key(cert.secret_key)) {
    bad(path, "not saved: the keys are not 40 characters of Z85 each");
  }
  const std::string secret_path = path + kSecretSuffix;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) bad(path, "exists already; remove it or choose another name");
  write_new(secret_path, render(cert, true), 0600);
  try {
    write_new(path, render(cert, false), 0644);
  } catch (...) {
    ::unlink(secret_path.c_str());
    throw;
  }
}

Certificate load_certificate(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(path, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > std::size_t{64} * 1024) bad(path, "over 64 KiB: not a certificate");
  const auto zpl = parse_zpl(path, text.str());
  const auto curve = zpl.find("curve");
  if (curve == zpl.end()) bad(path, "no 'curve' section");
  Certificate c;
  auto value = [&](const char* key) {
    auto it = curve->second.find(key);
    return it == curve->second.end() ? std::string() : it->second;
  };
  c.public_key = value("public-key");
  c.secret_key = value("secret-key");
  if (!is_z85_key(c.public_key)) bad(path, "public-key is not 40 characters of Z85");
  if (!c.secret_key.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      std::array<char, 8> mode{};
      std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      bad(path, std::string("holds a secret key but group or others may read or write it (mode ") +
                    mode.data() + "); chmod 600 '" + path + "'");
    }
    if (!is_z85_key(c.secret_key)) bad(path, "secret-key is not 40 characters of Z85");
    std::array<char, kZ85KeyChars + 1> derived{};
    if (zmq_curve_public(derived.data(), c.secret_key.c_str()) != 0 ||
        c.public_key != derived.data()) {
      bad(path, "its secret-key does not belong to its public-key");
    }
  }
  if (auto meta = zpl.find("metadata"); meta != zpl.end()) c.metadata = meta->second;
  return c;
}

std::vector<Certificate> load_trusted_certificates(const std::string& dir,
                                                   std::vector<std::string>* skipped) {
  const std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) {
    throw Error(errc::invalid_argument,
                "trusted certificates '" + dir + "': cannot read: " + std::strerror(errno));
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  std::vector<Certificate> out;
  for (const auto& name : names) {
    std::string path = dir;
    path += '/';
    path += name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    auto skip = [&](const std::string& why) {
      if (skipped == nullptr) return;
      std::string line = name;
      line += ": ";
      line += why;
      skipped->push_back(std::move(line));
    };
    if (name.size() > std::strlen(kSecretSuffix) &&
        name.compare(name.size() - std::strlen(kSecretSuffix), std::string::npos, kSecretSuffix) ==
            0) {
      skip("a secret certificate (trust public ones only)");
      continue;
    }
    try {
      Certificate c = load_certificate(path);
      if (!c.secret_key.empty()) {
        skip("holds a secret key (trust public certificates only)");
        continue;
      }
      out.push_back(std::move(c));
    } catch (const Error& e) {
      skip(e.what());
    }
  }
  return out;
}

}  // namespace zmesh
