// zmesh/core/result.hpp — a value or a std::error_code, for code that must not throw
// (decoding untrusted bytes). C++20 has no std::expected; this is the small subset zmesh
// uses. Reading value() of an error Result throws zmesh::Error with that error.
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "zmesh/core/errors.hpp"
#include "zmesh/core/export.hpp"

namespace ZMESH_API zmesh {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(std::error_code ec) : v_(ec) {}     // NOLINT(google-explicit-constructor)
  template <class E, std::enable_if_t<std::is_error_code_enum_v<E>, int> = 0>
  Result(E e) : v_(make_error_code(e)) {}  // NOLINT(google-explicit-constructor)

  /// True when a value is held.
  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The error; a default (zero) error_code when a value is held.
  [[nodiscard]] std::error_code error() const noexcept {
    return ok() ? std::error_code{} : std::get<1>(v_);
  }

  T& value() & {
    check();
    return std::get<0>(v_);
  }
  [[nodiscard]] const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void check() const {
    if (!ok()) throw Error(std::get<1>(v_), std::get<1>(v_).message());
  }
  std::variant<T, std::error_code> v_;
};

}  // namespace zmesh
