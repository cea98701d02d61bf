#include "base/sealed_exec.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/syscalls.hpp"
#include "base/unique_fd.hpp"

extern char** environ;

namespace cove {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
// Carries the original path across the re-exec; read and removed at once by the new process,
// which trusts it only when its executable is a sealed memfd or lies on a read-only overlay.
constexpr const char* kEnv = "COVE_SEALED_FROM";

std::string& original() {
  static std::string path;
  return path;
}

bool has_seals(int fd) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

// The bytes of an ELF64 file the kernel loads: up to the end of the last program-header
// extent. `size` when the file is not one we understand (then everything is copied).
off_t loaded_size(int fd, off_t size) {
  Elf64_Ehdr eh;
  if (::pread(fd, &eh, sizeof eh, 0) != sizeof eh || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
    return size;
  off_t end = off_t(eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr));
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (::pread(fd, &ph, sizeof ph, off_t(eh.e_phoff + i * sizeof ph)) != sizeof ph) return size;
    end = std::max<off_t>(end, off_t(ph.p_offset + ph.p_filesz));
  }
  return end < size ? end : size;
}

// Section headers lie past the loaded part: a truncated copy says it has none.
Result<void> drop_section_headers(int mfd) {
  Elf64_Ehdr eh;
  if (::pread(mfd, &eh, sizeof eh, 0) != sizeof eh) return Error::from_errno(errno, "read the copy's ELF header");
  eh.e_shoff = 0;
  eh.e_shnum = 0;
  eh.e_shstrndx = SHN_UNDEF;
  if (::pwrite(mfd, &eh, sizeof eh, 0) != sizeof eh) return Error::from_errno(errno, "write the copy's ELF header");
  return {};
}

// An empty read-only tmpfs, detached: the overlay's bottom layer (an overlay without an upper
// layer needs two lower ones). Nothing on the host shows it; it goes with the overlay.
Result<UniqueFd> empty_layer() {
  UniqueFd fs(sys::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fs || sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Error::from_errno(errno, "make an empty tmpfs");
  UniqueFd m(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY));
  if (!m) return Error::from_errno(errno, "fsmount an empty tmpfs");
  return m;
}

bool same_size_and_mtime(int a, int b) {
  struct stat sa, sb;
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && S_ISREG(sb.st_mode) && sa.st_size == sb.st_size &&
         sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec == sb.st_mtim.tv_nsec;
}

// A layer's path in overlayfs' `lowerdir` list, where `:` separates layers and `\` escapes.
std::string layer_path(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The two layers of a lower-only overlay: `dir` over `spare` by path, or (no `spare`) over an
// empty tmpfs by fd; `held` keeps those fds until the superblock is made.
Result<void> set_layers(int fs, const std::string& dir, const std::string& spare, std::vector<UniqueFd>& held) {
  if (!spare.empty()) {
    std::string lowers = layer_path(dir) + ":" + layer_path(spare);
    if (sys::fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lowers.c_str(), 0) < 0)
      return Error::from_errno(errno, "overlay layers `" + lowers + "`");
    return {};
  }
  held.emplace_back(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!held.back()) return Error::from_errno(errno, "open `" + dir + "`");
  auto bottom = empty_layer();
  if (!bottom) return std::move(bottom).error();
  held.push_back(std::move(*bottom));
  // Layers by fd: kernel 6.13 or later (an older one says EINVAL here).
  for (const auto& layer : held)
    if (sys::fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", nullptr, layer.get()) < 0)
      return Error::from_errno(errno, "overlay layer `lowerdir+`");
  return {};
}

}  // namespace

Result<UniqueFd> sealed_memfd_copy(const char* name, int exe) {
  struct stat st;
  if (::fstat(exe, &st) < 0) return Error::from_errno(errno, "stat the executable");
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
#ifdef MFD_EXEC
  flags |= MFD_EXEC;  // vm.memfd_noexec=1 would otherwise make it non-executable
#endif
  UniqueFd mfd(::memfd_create(name, flags));
#ifdef MFD_EXEC
  if (!mfd && errno == EINVAL) mfd.reset(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));  // before 6.3
#endif
  if (!mfd) return Error::from_errno(errno, "memfd_create");
  off_t size = loaded_size(exe, st.st_size);
  off_t off = 0;
  while (off < size) {
    ssize_t n = ::sendfile(mfd.get(), exe, &off, size_t(size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "copy the executable into a memfd");
  }
  if (size < st.st_size) COVE_TRY(drop_section_headers(mfd.get()));
  if (::fcntl(mfd.get(), F_ADD_SEALS, kSeals) < 0) return Error::from_errno(errno, "seal the memfd");
  return mfd;
}

bool on_readonly_overlay(int fd) {
  struct statfs sf;
  return ::fstatfs(fd, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC && (sf.f_flags & ST_RDONLY) != 0;
}

Result<UniqueFd> readonly_overlay_of(const std::string& dir, const std::string& spare) {
  UniqueFd fs(sys::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return Error::from_errno(errno, "fsopen overlay");
  std::vector<UniqueFd> held;
  COVE_TRY(set_layers(fs.get(), dir, spare, held));
  (void)sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "xino", "off", 0);  // only quiets the kernel log
  if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Error::from_errno(errno, "make the overlay over `" + dir + "`");
  UniqueFd mnt(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID));
  if (!mnt) return Error::from_errno(errno, "fsmount the overlay over `" + dir + "`");
  return mnt;
}

Result<UniqueFd> overlay_view(const std::string& path, int exe, const std::string& spare) {
  auto slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == std::string::npos || slash + 1 == path.size())
    return Error::invalid("`" + path + "` is not an absolute path to a file");
  std::string dir = slash == 0 ? "/" : path.substr(0, slash), base = path.substr(slash + 1);
  auto mnt = readonly_overlay_of(dir);
  if (!mnt && mnt.error().code() == EINVAL && !spare.empty()) mnt = readonly_overlay_of(dir, spare);
  if (!mnt) return std::move(mnt).error();
  UniqueFd file(::openat(mnt->get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!file) return Error::from_errno(errno, "open `" + base + "` in the overlay over `" + dir + "`");
  // The name may have been given to another file since this one started (an upgrade).
  if (!same_size_and_mtime(exe, file.get()) || !on_readonly_overlay(file.get()))
    return Error(ESTALE, "`" + path + "` is not the running executable any more");
  return file;
}

const std::string& original_exe() { return original(); }

Result<void> reexec_sealed(const char* name, char** argv, const std::string& spare_dir) {
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return Error::from_errno(errno, "open /proc/self/exe");
  if (has_seals(exe.get()) || (std::getenv(kEnv) && on_readonly_overlay(exe.get()))) {
    if (const char* from = std::getenv(kEnv)) original() = from;
    ::unsetenv(kEnv);
    // The kernel names a process exec'd from an fd after the fd ("memfd:NAME", or the fd
    // number on older kernels); ps and pgrep should still see the tool's name.
    ::prctl(PR_SET_NAME, name);
    return {};
  }
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "readlink /proc/self/exe");
  path[n] = '\0';
  if (::setenv(kEnv, path, 1) < 0) return Error::from_errno(errno, "setenv");
  // No copy where the kernel can give the file a read-only view (overlayfs); a copy otherwise.
  if (auto view = overlay_view(path, exe.get(), spare_dir)) ::fexecve(view->get(), argv, environ);
  auto mfd = sealed_memfd_copy(name, exe.get());
  if (!mfd) {
    ::unsetenv(kEnv);
    return std::move(mfd).error().context("sealed copy of `" + std::string(path) + "`");
  }
  ::fexecve(mfd->get(), argv, environ);
  int err = errno;
  ::unsetenv(kEnv);
  return Error::from_errno(err, "exec the sealed copy of `" + std::string(path) + "`");
}

}  // namespace cove
