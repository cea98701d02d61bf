#include "storage/rootfs_edit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"

namespace cove::storage {
namespace {

// The file opened read-write inside `root`; an empty fd when it does not exist.
Result<UniqueFd> open_in_tree(const std::string& root, const std::string& rel) {
  UniqueFd rootfd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return Error::from_errno(errno, "open `" + root + "`");
  struct open_how how = {};
  how.flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(sys::openat2(rootfd.get(), rel.c_str(), &how, sizeof how));
  if (!fd) {
    if (errno == ENOENT || errno == ELOOP) return UniqueFd();
    return Error::from_errno(errno, "open `/" + rel + "` in `" + root + "`");
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `/" + rel + "`");
  if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return UniqueFd();
  return fd;
}

Result<std::string> read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return Error::from_errno(errno, "read");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string replace_words(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    while (end < text.size() && !is_space(text[end])) ++end;
    std::string word = text.substr(i, end - i);
    out += word == from ? to : word;
    i = end;
  }
  return out;
}

}  // namespace

Result<void> replace_word_in_root_file(const std::string& root, const std::string& rel, const std::string& from,
                                       const std::string& to) {
  auto fd = open_in_tree(root, rel);
  if (!fd) return std::move(fd).error();
  if (!*fd) return {};
  auto text = read_all(fd->get());
  if (!text) return std::move(text).error();
  std::string edited = replace_words(*text, from, to);
  if (edited == *text) return {};
  if (::ftruncate(fd->get(), 0) < 0 || ::pwrite(fd->get(), edited.data(), edited.size(), 0) != static_cast<ssize_t>(edited.size()))
    return Error::from_errno(errno, "write `/" + rel + "`");
  return {};
}

Result<void> truncate_root_file(const std::string& root, const std::string& rel) {
  auto fd = open_in_tree(root, rel);
  if (!fd) return std::move(fd).error();
  struct stat st;
  if (!*fd || ::fstat(fd->get(), &st) < 0 || st.st_size == 0) return {};
  if (::ftruncate(fd->get(), 0) < 0) return Error::from_errno(errno, "truncate `/" + rel + "`");
  return {};
}

}  // namespace cove::storage
