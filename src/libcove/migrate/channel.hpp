// A migration control channel: wire messages (migrate/wire.hpp) as lines over a pair of fds —
// the receiver's stdin/stdout, or the pipes of the source's `ssh` running the receiver.
// `expect<T>` reads one message and turns a peer's `refused`/`failed` into its Error, and any
// other message than T into an EPROTO error naming both.
#pragma once

#include <fmt/format.h>

#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "migrate/wire.hpp"

namespace cove::migrate {

class Channel {
 public:
  Channel(UniqueFd in, UniqueFd out) : in_(std::move(in)), out_(std::move(out)) {}
  Result<void> send(const Message& m);
  // The next message within `timeout_ms` (-1: no bound). ECONNRESET when the peer's side ended.
  Result<Message> receive(int timeout_ms);
  // Ends our sending side: the peer reads end-of-file.
  void close_out() { out_.reset(); }

 private:
  UniqueFd in_, out_;
  std::string buf_;
};

template <typename T>
Result<T> expect(Channel& ch, int timeout_ms) {
  auto m = ch.receive(timeout_ms);
  if (!m) return std::move(m).error();
  if (auto* t = std::get_if<T>(&*m)) return std::move(*t);
  if (auto* r = std::get_if<Refused>(&*m)) return from_wire(r->error);
  if (auto* f = std::get_if<Failed>(&*m)) return from_wire(f->error);
  return Error(EPROTO, fmt::format("expected `{}`, got `{}`", message_name(Message(T{})), message_name(*m)));
}

}  // namespace cove::migrate
