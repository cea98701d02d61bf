#include "criu/image_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "base/dir.hpp"
#include "base/unique_fd.hpp"
#include "criu/wire.hpp"

namespace cove::criu {

namespace {

// A pagemap entry takes 8-20 bytes: this is room for millions of runs of pages.
constexpr off_t kMaxPagemapBytes = 256 << 20;

// A regular file of the image directory, opened without following links or blocking (a FIFO
// in place of an image must not hang the check); `st` receives its attributes.
Result<UniqueFd> open_image(int dir_fd, const std::string& name, struct stat& st) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return Error::from_errno(errno, "open `" + name + "`");
  if (::fstat(fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + name + "`");
  if (!S_ISREG(st.st_mode)) return Error(EINVAL, "`" + name + "` is not a regular file");
  return fd;
}

Result<std::string> read_image(int dir_fd, const std::string& name) {
  struct stat st;
  auto fd = open_image(dir_fd, name, st);
  if (!fd) return std::move(fd).error();
  if (st.st_size > kMaxPagemapBytes)
    return Error(EFBIG, "`" + name + "` has " + std::to_string(st.st_size) + " bytes, more than a pagemap can");
  std::string out(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd->get(), out.data() + got, out.size() - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "read `" + name + "`");
    if (n == 0) break;
    got += size_t(n);
  }
  out.resize(got);
  return out;
}

Result<std::vector<std::string>> pagemap_names(int dir_fd) {
  auto d = Dir::open_at(dir_fd);
  if (!d) return Error::from_errno(d.error().code(), "read image directory");
  std::vector<std::string> out;
  for (const DirEntry& e : *d) {
    std::string n(e.name);
    if (n.size() > 12 && n.compare(0, 8, "pagemap-") == 0 && n.compare(n.size() - 4, 4, ".img") == 0) out.push_back(n);
  }
  if (d->error()) return Error::from_errno(d->error(), "read image directory");
  std::sort(out.begin(), out.end());
  return out;
}

// Whether the pages of an entry are in the pages file. Images older than `flags` mark pages
// kept in the parent snapshot with `in_parent` and have all others present (CRIU's
// init_compat_pagemap_entry).
bool is_present(const wire::Fields& e) {
  if (e.has(4)) return (e.get(4) & kPagePresent) != 0;
  return !(e.has(3) && e.get(3) != 0);
}

Result<void> check_one(int dir_fd, const std::string& pagemap, uint64_t page_size) {
  auto bytes = read_image(dir_fd, pagemap);
  if (!bytes) return std::move(bytes).error();
  auto pm = parse_pagemap(*bytes);
  if (!pm) return std::move(pm).error().context("`" + pagemap + "`");
  if (!pm->verifiable) return {};
  std::string pages = "pages-" + std::to_string(pm->pages_id) + ".img";
  uint64_t want = pm->present_pages * page_size;
  struct stat st;
  auto fd = open_image(dir_fd, pages, st);
  if (!fd) {
    if (fd.error().code() == ENOENT && want == 0) return {};
    return Error(fd.error().code() == ENOENT ? EINVAL : fd.error().code(),
                 "`" + pagemap + "` lists " + std::to_string(pm->present_pages) + " pages in `" + pages +
                     "`: " + fd.error().message());
  }
  if (uint64_t(st.st_size) != want)
    return Error(EINVAL, "`" + pages + "` has " + std::to_string(st.st_size) + " bytes, but `" + pagemap + "` lists " +
                             std::to_string(pm->present_pages) + " pages of " + std::to_string(page_size) +
                             " bytes (" + std::to_string(want) + ")");
  return {};
}

}  // namespace

Result<PagemapSummary> parse_pagemap(const std::string& b) {
  if (b.size() < 8 || wire::le32(b, 0) != wire::kCommonMagic || wire::le32(b, 4) != kPagemapMagic)
    return Error(EPROTO, "not a CRIU pagemap image (wrong magic)");
  PagemapSummary s;
  bool head = true;
  auto r = wire::for_each_entry(b, 8, [&](size_t begin, size_t end) -> Result<void> {
    auto f = wire::decode(b, begin, end);
    if (!f) return std::move(f).error().context(head ? "pagemap_head" : "pagemap entry " + std::to_string(s.entries));
    if (head) {
      if (!f->has(1)) return Error(EPROTO, "pagemap_head without pages_id");
      s.pages_id = uint32_t(f->get(1));
      head = false;
      return {};
    }
    // vaddr = 1, compat_nr_pages = 2, in_parent = 3, flags = 4, nr_pages = 5 (images/pagemap.proto).
    if (!f->has(1) || !(f->has(2) || f->has(5)))
      return Error(EPROTO, "pagemap entry " + std::to_string(s.entries) + " without vaddr or nr_pages");
    if (f->max_field > 5) s.verifiable = false;
    if (is_present(*f)) s.present_pages += f->has(5) ? f->get(5) : f->get(2);
    ++s.entries;
    return {};
  });
  if (!r) return std::move(r).error();
  if (head) return Error(EPROTO, "no pagemap_head");
  return s;
}

Result<void> check_page_images(const std::string& images_dir, uint64_t page_size) {
  UniqueFd dir(::open(images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno(errno, "open image directory `" + images_dir + "`");
  auto names = pagemap_names(dir.get());
  if (!names) return std::move(names).error();
  for (const auto& n : *names)
    if (auto r = check_one(dir.get(), n, page_size); !r)
      return std::move(r).error().context("damaged image in `" + images_dir + "`");
  return {};
}

}  // namespace cove::criu
