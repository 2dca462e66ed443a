#include "zmesh/core/ids.hpp"

#include <charconv>
#include <random>

namespace zmesh {

std::uint64_t random_id() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }());
  std::uint64_t v = 0;
  while (v == 0) v = rng();
  return v;
}

std::string id_to_hex(std::uint64_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, id >>= 4) out[static_cast<std::size_t>(i)] = kDigits[id & 0xf];
  return out;
}

std::optional<std::uint64_t> id_from_hex(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc{} || end != text.data() + text.size() || v == 0) return std::nullopt;
  return v;
}

}  // namespace zmesh
