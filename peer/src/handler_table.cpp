#include "handler_table.hpp"

#include <mutex>

namespace zmesh::detail {

std::uint64_t HandlerTable::add(std::string type, Handler handler, bool run_inline) {
  if (type.empty()) throw Error(errc::invalid_argument, "handler type must not be empty");
  if (!handler) throw Error(errc::invalid_argument, "handler for '" + type + "' is empty");
  std::unique_lock lock(mu_);
  if (by_type_.count(type) != 0) {
    throw Error(errc::invalid_argument, "a handler for '" + type + "' is already registered");
  }
  const std::uint64_t token = next_token_++;
  type_of_token_.emplace(token, type);
  by_type_.emplace(std::move(type), std::make_shared<Entry>(std::move(handler), run_inline));
  if (run_inline) inline_count_.fetch_add(1);
  return token;
}

void HandlerTable::remove(std::uint64_t token) noexcept {
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock lock(mu_);
    auto t = type_of_token_.find(token);
    if (t == type_of_token_.end()) return;
    auto e = by_type_.find(t->second);
    entry = std::move(e->second);
    by_type_.erase(e);
    type_of_token_.erase(t);
    if (entry->run_inline) inline_count_.fetch_sub(1);
  }
  entry->retire();
}

std::shared_ptr<HandlerTable::Entry> HandlerTable::find(std::string_view type) const {
  std::shared_lock lock(mu_);
  auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : it->second;
}

}  // namespace zmesh::detail
