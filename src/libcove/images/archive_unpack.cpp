// read_archive_head() and unpack_tree(): the reading side of archive.hpp. The extraction runs
// in a child process confined to the destination (chroot with root, else chdir), reporting
// progress and its result to the parent over a pipe as lines: "p BYTES", then "ok HASH BYTES
// ENTRIES" or "e ERROR-JSON".
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "base/wire_error.hpp"
#include "images/archive.hpp"
#include "images/archive_util.hpp"
#include "images/content_hash.hpp"

namespace cove::images {

namespace {

constexpr uint64_t kProgressStep = 8 << 20;

Result<ArchivePtr> open_reader(int fd) {
  if (::lseek(fd, 0, SEEK_SET) < 0) return Error::from_errno(errno, "seek to the start of the archive");
  ArchivePtr a(archive_read_new());
  if (!a) return Error(ENOMEM, "archive_read_new");
  if (archive_read_support_filter_zstd(a.get()) != ARCHIVE_OK || archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
      archive_read_open_fd(a.get(), fd, 1 << 20) != ARCHIVE_OK)
    return libarchive_error(a.get(), "open archive");
  return a;
}

Result<archive_entry*> next_entry(struct archive* a, const char* expected) {
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a, &e);
  if (r == ARCHIVE_EOF) return Error(EINVAL, fmt::format("archive ends before `{}`", expected));
  if (r != ARCHIVE_OK) return libarchive_error(a, fmt::format("read the entry before `{}`", expected));
  return e;
}

// The whole data of a small named entry.
Result<std::string> read_small(struct archive* a, archive_entry* e, const char* name) {
  if (std::string(archive_entry_pathname(e) ? archive_entry_pathname(e) : "") != name)
    return Error(EINVAL, fmt::format("expected `{}`, found `{}`", name, printable(archive_entry_pathname(e) ?: "")));
  if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) > static_cast<la_int64_t>(kMaxSmallEntry))
    return Error(EINVAL, fmt::format("`{}` is not a regular file of at most {} bytes", name, kMaxSmallEntry));
  std::string out(static_cast<size_t>(archive_entry_size(e)), '\0');
  la_ssize_t n = archive_read_data(a, out.data(), out.size());
  if (n < 0 || static_cast<size_t>(n) != out.size()) return libarchive_error(a, fmt::format("read `{}`", name));
  return out;
}

// `rootfs/a/b` -> `a/b` ("." for the root), refusing anything that could leave the tree.
Result<std::string> tree_path(const char* archived) {
  std::string p = archived ? archived : "";
  if (!starts_with(p, kRootfsPrefix)) return Error(EINVAL, fmt::format("entry `{}` is outside `rootfs/`", printable(p)));
  std::string rel = p.substr(std::string(kRootfsPrefix).size());
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel.empty()) return std::string(".");
  for (const auto& part : split(rel, '/'))
    if (part.empty() || part == "." || part == "..")
      return Error(EINVAL, fmt::format("entry `{}`: path with an empty, `.` or `..` component", printable(p)));
  return rel;
}

Result<void> check_type(archive_entry* e) {
  if (archive_entry_hardlink(e)) return {};  // a hard link's type is its target's
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: case AE_IFDIR: case AE_IFLNK: case AE_IFCHR: case AE_IFBLK: case AE_IFIFO:
      return {};
    default:
      return Error(EINVAL, fmt::format("entry `{}`: unsupported file type {:o}", printable(archive_entry_pathname(e)),
                                       archive_entry_filetype(e)));
  }
}

class Extractor {
 public:
  explicit Extractor(int msg_fd) : msg_fd_(msg_fd) {}
  Result<UnpackResult> run(int archive_fd);

 private:
  Result<void> open_writer();
  Result<bool> extract_one(archive_entry* e);
  Result<void> copy_data(const std::string& rel);
  void report(uint64_t n);

  int msg_fd_;
  ArchivePtr in_, out_;
  ContentHash hash_;
  std::string recorded_;
  uint64_t done_ = 0, reported_ = 0, entries_ = 0;
};

void Extractor::report(uint64_t n) {
  done_ += n;
  if (done_ - reported_ < kProgressStep) return;
  reported_ = done_;
  std::string line = fmt::format("p {}\n", done_);
  (void)!::write(msg_fd_, line.data(), line.size());
}

Result<void> Extractor::open_writer() {
  out_.reset(archive_write_disk_new());
  if (!out_) return Error(ENOMEM, "archive_write_disk_new");
  // No user/group lookup is set: owners are written as the numbers the archive holds.
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  if (archive_write_disk_set_options(out_.get(), flags) != ARCHIVE_OK) return libarchive_error(out_.get(), "set options");
  return {};
}

Result<void> Extractor::copy_data(const std::string& rel) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    int r = archive_read_data_block(in_.get(), &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK) return libarchive_error(in_.get(), "read `" + rel + "`");
    hash_.add_data(buf, size, offset);
    if (archive_write_data_block(out_.get(), buf, size, offset) != ARCHIVE_OK)
      return libarchive_error(out_.get(), "write `" + rel + "`");
    report(size);
  }
}

// Returns false at the archive's last entry (the recorded hash).
Result<bool> Extractor::extract_one(archive_entry* e) {
  std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
  if (name == kHashEntry) {
    auto text = read_small(in_.get(), e, kHashEntry);
    if (!text) return std::move(text).error();
    recorded_ = std::string(trim(*text));
    return false;
  }
  auto rel = tree_path(archive_entry_pathname(e));
  if (!rel) return std::move(rel).error();
  COVE_TRY(check_type(e));
  hash_.begin_entry(e);  // as archived, before the paths are rewritten
  archive_entry_set_pathname(e, rel->c_str());
  if (const char* link = archive_entry_hardlink(e)) {
    auto target = tree_path(link);
    if (!target) return std::move(target).error().context("hard link `" + *rel + "`");
    archive_entry_set_hardlink(e, target->c_str());
  }
  if (archive_write_header(out_.get(), e) != ARCHIVE_OK) return libarchive_error(out_.get(), "create `" + *rel + "`");
  COVE_TRY(copy_data(*rel));
  if (archive_write_finish_entry(out_.get()) != ARCHIVE_OK) return libarchive_error(out_.get(), "finish `" + *rel + "`");
  hash_.end_entry();
  ++entries_;
  return true;
}

Result<UnpackResult> Extractor::run(int archive_fd) {
  auto in = open_reader(archive_fd);
  if (!in) return std::move(in).error();
  in_ = std::move(*in);
  COVE_TRY(open_writer());
  for (const char* name : {kMetadataEntry, kConfigEntry}) {
    auto e = next_entry(in_.get(), name);
    if (!e) return std::move(e).error();
    if (auto r = read_small(in_.get(), *e, name); !r) return std::move(r).error();
  }
  for (bool more = true; more;) {
    auto e = next_entry(in_.get(), kHashEntry);
    if (!e) return std::move(e).error();
    auto r = extract_one(*e);
    if (!r) return std::move(r).error();
    more = *r;
  }
  archive_entry* extra = nullptr;
  if (archive_read_next_header(in_.get(), &extra) != ARCHIVE_EOF) return Error(EINVAL, "entries after `rootfs.sha256`");
  if (archive_write_close(out_.get()) != ARCHIVE_OK) return libarchive_error(out_.get(), "finish the tree");
  UnpackResult out{hash_.hex(), done_, entries_};
  if (out.content_hash != recorded_)
    return Error(EINVAL, fmt::format("content hash mismatch: the archive records `{}`, its entries hash to `{}`",
                                     printable(recorded_), out.content_hash));
  return out;
}

// The child: confined to `dest_fd`, extracts and reports; never returns.
[[noreturn]] void extract_child(pid_t parent, int archive_fd, int dest_fd, int msg_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  // Only the fds it uses: not the lock of the import's temp dir above all, which must be free
  // as soon as the importer is gone (its child, killed then, may take a moment to die, and
  // the next list would skip the temp dir as still in use).
  int keep[] = {archive_fd, dest_fd, msg_fd};
  std::sort(std::begin(keep), std::end(keep));
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    if (static_cast<unsigned>(fd) > from) ::close_range(from, static_cast<unsigned>(fd) - 1, 0);
    from = std::max(from, static_cast<unsigned>(fd) + 1);
  }
  ::close_range(from, ~0U, 0);
  ::signal(SIGINT, SIG_IGN);  // the parent decides what an interrupt ends
  std::string line;
  if (::fchdir(dest_fd) < 0) {
    line = "e " + encode_error(Error::from_errno(errno, "enter the destination")) + "\n";
  } else if (::geteuid() == 0 && ::chroot(".") < 0) {
    line = "e " + encode_error(Error::from_errno(errno, "chroot into the destination")) + "\n";
  } else if (auto r = Extractor(msg_fd).run(archive_fd); !r) {
    line = "e " + encode_error(r.error()) + "\n";
  } else {
    line = fmt::format("ok {} {} {}\n", r->content_hash, r->rootfs_bytes, r->entries);
  }
  (void)!::write(msg_fd, line.data(), line.size());
  ::_exit(0);
}

Result<UnpackResult> parse_result(const std::string& line) {
  if (starts_with(line, "e ")) return decode_error(line.substr(2));
  auto f = split_ws(line);
  auto bytes = f.size() == 4 ? parse_uint(f[2]) : std::nullopt;
  auto entries = f.size() == 4 ? parse_uint(f[3]) : std::nullopt;
  if (f.size() != 4 || f[0] != "ok" || !bytes || !entries) return Error(EPROTO, "bad result from the extraction: `" + printable(line) + "`");
  return UnpackResult{f[1], *bytes, *entries};
}

// Reads the child's lines until it closes the pipe: the last one is its result.
Result<UnpackResult> follow_child(pid_t pid, int msg_fd, uint64_t total, const ProgressFn& progress) {
  std::string pending, last;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(msg_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      std::string line = pending.substr(0, nl);
      auto bytes = starts_with(line, "p ") ? parse_uint(line.substr(2)) : std::nullopt;
      if (!bytes) {
        last = line;
        continue;
      }
      if (progress && !progress(*bytes, total)) {
        ::kill(pid, SIGKILL);
        return Error(ECANCELED, "interrupted");
      }
    }
  }
  if (last.empty()) return Error(EPIPE, "the extraction process ended without a result");
  return parse_result(last);
}

}  // namespace

Result<ArchiveHead> read_archive_head(int archive_fd) {
  auto a = open_reader(archive_fd);
  if (!a) return std::move(a).error();
  ArchiveHead head;
  for (auto [name, out] : {std::pair{kMetadataEntry, &head.metadata}, std::pair{kConfigEntry, &head.config}}) {
    auto e = next_entry(a->get(), name);
    if (!e) return std::move(e).error();
    auto text = read_small(a->get(), *e, name);
    if (!text) return std::move(text).error();
    *out = std::move(*text);
  }
  return head;
}

Result<UnpackResult> unpack_tree(int archive_fd, const std::string& dest_dir, uint64_t total,
                                 const ProgressFn& progress) {
  UniqueFd dest(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dest) return Error::from_errno(errno, "open `" + dest_dir + "`");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::from_errno(errno, "pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error::from_errno(errno, "fork");
  if (pid == 0) extract_child(parent, archive_fd, dest.get(), wr.get());
  wr.reset();
  auto r = follow_child(pid, rd.get(), total, progress);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (r && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    return Error(EIO, fmt::format("the extraction process failed (status {:#x})", status));
  if (!r) return std::move(r).error().context("unpack into `" + dest_dir + "`");
  return r;
}

}  // namespace cove::images
