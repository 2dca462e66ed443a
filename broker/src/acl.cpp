#include "acl.hpp"

#include <fnmatch.h>

#include <fstream>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/keys.hpp"

namespace zmesh::detail {
namespace {

// An ACL is a few lines per key; anything near this is not one.
constexpr std::size_t kMaxAclBytes = std::size_t{1} << 20;
// What of a refused word is shown back: enough to find it.
constexpr std::size_t kMaxExcerpt = 60;

std::string excerpt(std::string_view word) {
  std::string out;
  for (const char ch : word) {
    if (out.size() >= kMaxExcerpt) return out + "...";
    const auto c = static_cast<unsigned char>(ch);
    out += c >= 0x20 && c < 0x7f ? ch : '?';
  }
  return out;
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

Acl Acl::parse(std::string_view text, const std::string& origin) {
  Acl acl;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++line_no;
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    auto fail = [&](const std::string& what) {
      std::string message = origin;
      message += " line " + std::to_string(line_no) + ": ";
      message += what;
      throw Error(errc::invalid_argument, message);
    };
    const auto words = words_of(line);
    // Z85 keys may begin with '#': the first word is a key when it is one.
    if (words.empty() || (words[0][0] == '#' && !is_z85_key(words[0]))) continue;
    Rule rule;
    if (words[0] == "*" || is_z85_key(words[0])) {
      rule.key = std::string(words[0]);
    } else {
      fail("'" + excerpt(words[0]) +
           "' is not a public key (40 characters of Z85) nor '*'; a line is "
           "'<key|*> name:<glob> service:<glob> ...'");
    }
    for (std::size_t w = 1; w < words.size(); ++w) {
      const std::string_view word = words[w];
      if (word[0] == '#') break;  // the rest of the line is a comment
      const auto colon = word.find(':');
      const std::string_view kind = word.substr(0, colon);
      const std::string glob(colon == std::string_view::npos ? "" : word.substr(colon + 1));
      if (colon == std::string_view::npos || (kind != "name" && kind != "service")) {
        fail("'" + excerpt(word) + "': expected name:<glob> or service:<glob>");
      }
      if (glob.empty()) fail("'" + excerpt(word) + "': the glob is empty (use '*' for any)");
      (kind == "name" ? rule.names : rule.services).push_back(glob);
    }
    if (rule.names.empty() && rule.services.empty()) {
      fail("key '" + excerpt(words[0]) +
           "' is granted nothing (add name:<glob> or service:<glob>)");
    }
    acl.rules_.push_back(std::move(rule));
  }
  return acl;
}

Acl Acl::load(const std::string& path) {
  const std::string origin = "ACL file '" + path + "'";
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(errc::invalid_argument, "cannot read " + origin);
  std::string text(kMaxAclBytes + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) throw Error(errc::invalid_argument, "error reading " + origin);
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > kMaxAclBytes) {
    throw Error(errc::invalid_argument,
                origin + " is too large (over " + std::to_string(kMaxAclBytes) + " bytes)");
  }
  return parse(text, origin);
}

bool Acl::allows_name(const std::string& key, const std::string& name) const {
  return allows(key, name, &Rule::names);
}

bool Acl::allows_service(const std::string& key, const std::string& service) const {
  return allows(key, service, &Rule::services);
}

bool Acl::matches(const std::vector<std::string>& globs, const std::string& value) {
  // fnmatch reads C strings: a value with a NUL in it would match on its prefix.
  if (value.find('\0') != std::string::npos) return false;
  for (const auto& glob : globs) {
    if (fnmatch(glob.c_str(), value.c_str(), 0) == 0) return true;
  }
  return false;
}

bool Acl::allows(const std::string& key, const std::string& value,
                 std::vector<std::string> Rule::*globs) const {
  for (const auto& rule : rules_) {
    if ((rule.key == "*" || rule.key == key) && matches(rule.*globs, value)) return true;
  }
  return false;
}

}  // namespace zmesh::detail
