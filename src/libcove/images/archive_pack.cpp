// pack_tree() and measure_tree(): the writing side of archive.hpp.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/log.hpp"
#include "images/archive.hpp"
#include "images/archive_util.hpp"
#include "images/content_hash.hpp"
#include "images/entry_attrs.hpp"
#include "images/tree_walk.hpp"
#include "images/zstd_writer.hpp"

namespace cove::images {

void link_libarchive_static_stubs();  // libarchive_static.cpp

namespace {

constexpr size_t kBufSize = 1 << 20;
constexpr uint64_t kProgressStep = 8 << 20;

// The data regions of a file: [offset, length) pairs, holes between them.
using Regions = std::vector<std::pair<int64_t, int64_t>>;

Result<Regions> data_regions(int fd, const struct stat& st) {
  Regions out;
  // Only a file with fewer blocks than its size can have holes: skip the lseeks otherwise.
  if (st.st_blocks * 512 >= st.st_size) return Regions{{0, st.st_size}};
  for (off_t off = 0; off < st.st_size;) {
    off_t data = ::lseek(fd, off, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) return Error::from_errno(errno, "find data");
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return Error::from_errno(errno, "find hole");
    hole = std::min<off_t>(hole, st.st_size);
    if (hole > data) out.emplace_back(data, hole - data);
    off = hole;
  }
  return out;
}

class Packer {
 public:
  Packer(int out_fd, const PackOptions& o) : zw_(out_fd, o.level, o.threads), opts_(o), ids_{o.shifted} {}
  Result<PackResult> run(const std::string& dir);

 private:
  static la_ssize_t write_cb(struct archive*, void* self, const void* buf, size_t n);
  Error archive_error(const std::string& what);
  Result<void> open_archive();
  Result<void> add_named(const NamedEntry& n);
  Result<void> emit(int dirfd, const std::string& name, const std::string& rel, const struct stat& st);
  Result<void> fill_entry(archive_entry* e, int dirfd, const std::string& name, const std::string& rel,
                          const struct stat& st, UniqueFd& fd);
  Result<void> write_entry(archive_entry* e, int fd, const struct stat& st, const Regions* regions);
  Result<void> write_regions(int fd, const struct stat& st, const Regions& regions);
  Result<void> feed(const void* p, size_t n);
  Result<void> tick(uint64_t n);
  Result<void> finish_entry();

  ZstdWriter zw_;
  const PackOptions& opts_;
  IdsBack ids_;
  ArchivePtr a_;
  std::optional<Error> write_error_;
  ContentHash hash_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::vector<char> buf_ = std::vector<char>(kBufSize);
  uint64_t done_ = 0, reported_ = 0, entries_ = 0;
};

la_ssize_t Packer::write_cb(struct archive*, void* self, const void* buf, size_t n) {
  auto* p = static_cast<Packer*>(self);
  if (auto r = p->zw_.write(buf, n); !r) {
    p->write_error_ = std::move(r).error();
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

Error Packer::archive_error(const std::string& what) {
  if (write_error_) return Error(*write_error_).context(what);
  return libarchive_error(a_.get(), what);
}

Result<void> Packer::open_archive() {
  link_libarchive_static_stubs();
  a_.reset(archive_write_new());
  if (!a_) return Error(ENOMEM, "archive_write_new");
  // pax (not restricted): every entry gets an extended header, so sub-second mtimes survive.
  // Unblocked (0 bytes per block): libarchive hands what it is given straight to write_cb
  // instead of copying it into 10 KB blocks first; the compressor buffers anyway.
  if (archive_write_set_format_pax(a_.get()) != ARCHIVE_OK || archive_write_set_bytes_per_block(a_.get(), 0) != ARCHIVE_OK ||
      archive_write_open(a_.get(), this, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return archive_error("open archive");
  return {};
}

Result<void> Packer::feed(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    la_ssize_t w = archive_write_data(a_.get(), c, n);
    if (w <= 0) return archive_error("write data");
    c += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

Result<void> Packer::tick(uint64_t n) {
  done_ += n;
  if (!opts_.progress || done_ - reported_ < kProgressStep) return {};
  reported_ = done_;
  if (!opts_.progress(done_, opts_.total)) return Error(ECANCELED, "interrupted");
  return {};
}

Result<void> Packer::finish_entry() {
  if (archive_write_finish_entry(a_.get()) != ARCHIVE_OK) return archive_error("finish entry");
  hash_.end_entry();
  return {};
}

Result<void> Packer::add_named(const NamedEntry& n) {
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), n.name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(n.data.size()));
  archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
  if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return archive_error("write `" + n.name + "`");
  COVE_TRY(feed(n.data.data(), n.data.size()));
  if (archive_write_finish_entry(a_.get()) != ARCHIVE_OK) return archive_error("write `" + n.name + "`");
  return {};
}

// The entry's header fields, and the open file its data and attributes come from.
Result<void> Packer::fill_entry(archive_entry* e, int dirfd, const std::string& name, const std::string& rel,
                                const struct stat& st, UniqueFd& fd) {
  bool dir = S_ISDIR(st.st_mode);
  archive_entry_set_pathname(e, (std::string(kRootfsPrefix) + rel + (dir && !rel.empty() ? "/" : "")).c_str());
  archive_entry_set_filetype(e, st.st_mode & S_IFMT);
  archive_entry_set_perm(e, st.st_mode & 07777);
  archive_entry_set_uid(e, ids_.uid(st.st_uid));
  archive_entry_set_gid(e, ids_.gid(st.st_gid));
  archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  AttrSource src;
  if (S_ISREG(st.st_mode) || dir) {
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (dir ? O_DIRECTORY : O_NOATIME);
    fd.reset(::openat(dirfd, name.c_str(), flags));
    if (!fd && errno == EPERM) fd.reset(::openat(dirfd, name.c_str(), flags & ~O_NOATIME));
    if (!fd) return Error::from_errno(errno, "open");
    struct stat again;
    if (::fstat(fd.get(), &again) < 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
      return Error(EAGAIN, "replaced while being archived");
    src.fd = fd.get();
    if (S_ISREG(st.st_mode)) archive_entry_set_size(e, st.st_size);
  } else {
    src.path = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
      if (n < 0) return Error::from_errno(errno, "read link");
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(e, target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(e, major(st.st_rdev));
      archive_entry_set_rdevminor(e, minor(st.st_rdev));
    }
  }
  return add_entry_attrs(e, src, ids_);
}

Result<void> Packer::write_regions(int fd, const struct stat& st, const Regions& regions) {
  static const std::vector<char> kZeros(kBufSize, 0);
  int64_t pos = 0;
  auto skip_to = [&](int64_t to) -> Result<void> {  // a hole: the pax writer drops these zeros
    for (; pos < to; pos += std::min<int64_t>(to - pos, kBufSize))
      COVE_TRY(feed(kZeros.data(), static_cast<size_t>(std::min<int64_t>(to - pos, kBufSize))));
    return {};
  };
  for (const auto& [start, length] : regions) {
    COVE_TRY(skip_to(start));
    for (int64_t end = start + length; pos < end;) {
      ssize_t n = ::pread(fd, buf_.data(), static_cast<size_t>(std::min<int64_t>(end - pos, kBufSize)), pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno(errno, "read");
      if (n == 0) return Error(EAGAIN, "shrank while being archived");
      hash_.add_data(buf_.data(), static_cast<size_t>(n), pos);
      COVE_TRY(feed(buf_.data(), static_cast<size_t>(n)));
      pos += n;
      COVE_TRY(tick(static_cast<uint64_t>(n)));
    }
  }
  return skip_to(st.st_size);
}

Result<void> Packer::write_entry(archive_entry* e, int fd, const struct stat& st, const Regions* regions) {
  if (archive_write_header(a_.get(), e) != ARCHIVE_OK) return archive_error("write header");
  hash_.begin_entry(e);
  if (regions) COVE_TRY(write_regions(fd, st, *regions));
  ++entries_;
  return finish_entry();
}

Result<void> Packer::emit(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
  if (S_ISSOCK(st.st_mode)) {
    log::debug("image: leaving out the socket `{}`", rel);
    return {};
  }
  EntryPtr e(archive_entry_new());
  UniqueFd fd;
  if (auto r = fill_entry(e.get(), dirfd, name, rel, st, fd); !r) return std::move(r).error().context("`" + rel + "`");
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, archive_entry_pathname(e.get()));
    if (!first) {
      archive_entry_set_hardlink(e.get(), it->second.c_str());
      archive_entry_set_size(e.get(), 0);
      return write_entry(e.get(), -1, st, nullptr);
    }
  }
  if (!S_ISREG(st.st_mode)) return write_entry(e.get(), -1, st, nullptr);
  auto regions = data_regions(fd.get(), st);
  if (!regions) return std::move(regions).error().context("`" + rel + "`");
  bool sparse = !(regions->size() == 1 && (*regions)[0] == std::pair<int64_t, int64_t>(0, st.st_size)) && st.st_size > 0;
  if (sparse) {
    for (const auto& [start, length] : *regions) archive_entry_sparse_add_entry(e.get(), start, length);
    if (regions->empty()) archive_entry_sparse_add_entry(e.get(), st.st_size, 0);  // all hole
  }
  if (auto r = write_entry(e.get(), fd.get(), st, &*regions); !r) return std::move(r).error().context("`" + rel + "`");
  return {};
}

Result<PackResult> Packer::run(const std::string& dir) {
  COVE_TRY(open_archive());
  for (const auto& n : opts_.first) COVE_TRY(add_named(n));
  COVE_TRY(walk_tree(dir, [&](int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
    return emit(dirfd, name, rel, st);
  }));
  PackResult out;
  out.content_hash = hash_.hex();
  COVE_TRY(add_named({kHashEntry, out.content_hash + "\n"}));
  if (archive_write_close(a_.get()) != ARCHIVE_OK) return archive_error("close archive");
  COVE_TRY(zw_.finish());
  if (opts_.progress) (void)opts_.progress(done_, opts_.total);
  out.rootfs_bytes = done_;
  out.entries = entries_;
  out.archive_bytes = zw_.bytes_out();
  return out;
}

}  // namespace

Result<PackResult> pack_tree(const std::string& dir, int out_fd, const PackOptions& opts) {
  Packer p(out_fd, opts);
  auto r = p.run(dir);
  if (!r) return std::move(r).error().context("archive `" + dir + "`");
  return r;
}

Result<TreeSize> measure_tree(const std::string& dir) {
  TreeSize t;
  std::map<std::pair<dev_t, ino_t>, bool> seen;
  auto r = walk_tree(dir, [&](int, const std::string&, const std::string&, const struct stat& st) -> Result<void> {
    ++t.entries;
    if (!S_ISREG(st.st_mode)) return {};
    if (st.st_nlink > 1 && !seen.try_emplace({st.st_dev, st.st_ino}, true).second) return {};
    t.bytes += static_cast<uint64_t>(st.st_size);
    t.allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    return {};
  });
  if (!r) return std::move(r).error().context("measure `" + dir + "`");
  return t;
}

}  // namespace cove::images
