// Error and Result<T>: how every libcove function reports failure.
// An Error carries an errno-style code and a message chain built as it climbs
// ("start `web`: prepare rootfs: mount `proc`: Permission denied"). Result<T> is
// shaped like std::expected<T, Error> so that moving to it later is one alias.
#pragma once

#include <cassert>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace cove {

class Error {
 public:
  Error() = default;
  Error(int code, std::string message) : code_(code), message_(message), chain_{std::move(message)} {}

  // An error from a failed syscall: "<what>: <strerror(code)>".
  static Error from_errno(int code, const std::string& what) {
    return Error(code, what + ": " + std::strerror(code));
  }
  // A logical error (bad input, wrong state) with a code for exit-status mapping.
  static Error invalid(const std::string& what) { return Error(EINVAL, what); }

  int code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& what() const { return message_; }
  // The message as its parts, outermost context first, the root message last: what crosses a
  // process boundary (base/wire_error.hpp), so that the far side rebuilds the same Error.
  const std::vector<std::string>& chain() const { return chain_; }

  // Prepends context: "<ctx>: <message>".
  Error context(const std::string& ctx) && {
    message_ = ctx + ": " + message_;
    chain_.insert(chain_.begin(), ctx);
    return std::move(*this);
  }
  Error context(const std::string& ctx) const& {
    Error e = *this;
    return std::move(e).context(ctx);
  }

 private:
  int code_ = 0;
  std::string message_;
  std::vector<std::string> chain_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
                                        !std::is_same_v<std::decay_t<U>, Error>>>
  Result(U&& value) : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { assert(!has_value()); return std::get<1>(v_); }
  const Error& error() const& { assert(!has_value()); return std::get<1>(v_); }
  Error&& error() && { assert(!has_value()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void value() const { assert(has_value()); }

  Error& error() & { assert(!has_value()); return *error_; }
  const Error& error() const& { assert(!has_value()); return *error_; }
  Error&& error() && { assert(!has_value()); return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

// Propagates a failed Result unchanged: COVE_TRY(do_thing());
// Use an explicit `if (!r)` whenever context should be added.
#define COVE_TRY(expr)                              \
  do {                                              \
    if (auto cove_try_r_ = (expr); !cove_try_r_)    \
      return std::move(cove_try_r_).error();        \
  } while (0)

}  // namespace cove
