// Dir: an open directory being listed (RAII over DIR*: closed on destruction). Iteration skips
// `.` and `..`; a read error ends the iteration and is kept in `error()`, so a caller can tell a
// short listing from a complete one.
//   auto dir = Dir::open(path);
//   if (!dir) return std::move(dir).error();
//   for (const DirEntry& e : *dir) ...
//   if (dir->error()) return Error::from_errno(dir->error(), "read `" + path + "`");
#pragma once

#include <dirent.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace cove {

struct DirEntry {
  std::string_view name;  // valid until the next step of the iteration
  unsigned char type;     // DT_DIR, DT_REG, ... or DT_UNKNOWN (the filesystem does not say)
};

class Dir {
 public:
  // Opens `path` for listing. Error: "open directory `PATH`: <errno>" (code: the errno).
  static Result<Dir> open(const std::string& path);
  // Lists the directory `dirfd` refers to (even an O_PATH fd), through a new open file
  // description of its own: `dirfd` and its offset are left alone.
  static Result<Dir> open_at(int dirfd);

  Dir(Dir&&) noexcept = default;
  Dir& operator=(Dir&&) noexcept = default;

  // The errno of a failed read that ended the last iteration (0: it reached the end).
  int error() const { return error_; }
  int fd() const { return ::dirfd(dir_.get()); }

  class Iterator {
   public:
    using value_type = DirEntry;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(Dir* dir) : dir_(dir) {
      dir->error_ = 0;
      advance();
    }
    const DirEntry& operator*() const { return entry_; }
    const DirEntry* operator->() const { return &entry_; }
    Iterator& operator++() {
      advance();
      return *this;
    }
    bool operator==(const Iterator& o) const { return dir_ == o.dir_; }

   private:
    void advance();
    Dir* dir_ = nullptr;
    DirEntry entry_{};
  };
  // Iterates from where the last iteration stopped (a directory is listed once).
  Iterator begin() { return Iterator(this); }
  Iterator end() { return Iterator(); }

  // The names of the remaining entries (unsorted). Error on a failed read.
  Result<std::vector<std::string>> names();

 private:
  struct Closer {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  explicit Dir(DIR* d) : dir_(d) {}
  std::unique_ptr<DIR, Closer> dir_;
  int error_ = 0;
};

}  // namespace cove
