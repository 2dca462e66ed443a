// HandlerTable — request/message handlers by message type, shared by the Peer (which adds
// and removes) and the workers (which look up and call). Read-mostly: lookups take a
// shared lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "guarded_callable.hpp"
#include "zmesh/peer.hpp"

namespace zmesh::detail {

class HandlerTable final : public Unregister {
 public:
  struct Entry : Guarded<Handler> {
    Entry(Handler h, bool inline_run) : Guarded<Handler>(std::move(h)), run_inline(inline_run) {}
    const bool run_inline;  // HandlerOptions::run_inline: runs on the engine thread
  };

  /// Adds a handler; returns its token. Throws Error(invalid_argument) if the type is taken.
  std::uint64_t add(std::string type, Handler handler, bool run_inline = false);
  /// Removes it and waits until it is not running (unless called from inside it).
  void remove(std::uint64_t token) noexcept override;
  /// The live entry for a type, or null.
  [[nodiscard]] std::shared_ptr<Entry> find(std::string_view type) const;
  /// True while some handler runs inline (the engine looks handlers up only then).
  [[nodiscard]] bool any_inline() const noexcept { return inline_count_.load() != 0; }

  /// Calls `entry` (on a worker). Returns false if it was removed meanwhile.
  static bool call(Entry& entry, const Message& message, std::string& reply) {
    return entry.call_with([&](Handler& fn) { reply = fn(message); });
  }

 private:
  mutable std::shared_mutex mu_;
  // guarded by mu_
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> by_type_;
  std::map<std::uint64_t, std::string> type_of_token_;
  std::uint64_t next_token_ = 1;
  std::atomic<int> inline_count_{0};
};

}  // namespace zmesh::detail
