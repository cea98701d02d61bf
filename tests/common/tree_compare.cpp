#include "tree_compare.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

namespace cove::test {

namespace {

namespace fs = std::filesystem;

std::vector<std::string> relative_paths(const std::string& root) {
  std::vector<std::string> out{""};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    out.push_back(it->path().lexically_relative(root).string());  // not fs::relative: it follows symlinks
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[65536];
  ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
    std::string name = names + i;
    char value[65536];
    ssize_t v = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
    out[name] = v < 0 ? "<unreadable>" : std::string(value, static_cast<size_t>(v));
  }
  return out;
}

std::string link_target(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

struct Differ {
  std::vector<std::string> out;
  template <typename T>
  void check(const std::string& rel, const char* what, const T& x, const T& y) {
    if (x == y) return;
    std::ostringstream s;
    s << "`" << (rel.empty() ? "." : rel) << "`: " << what << " " << x << " != " << y;
    out.push_back(s.str());
  }
};

void compare_entry(Differ& d, const std::string& rel, const std::string& pa, const std::string& pb,
                   const TreeCompareOptions& opts) {
  struct stat a, b;
  if (::lstat(pa.c_str(), &a) < 0 || ::lstat(pb.c_str(), &b) < 0) {
    d.out.push_back("`" + rel + "`: cannot stat");
    return;
  }
  d.check(rel, "mode", a.st_mode, b.st_mode);
  d.check(rel, "uid", a.st_uid, b.st_uid);
  d.check(rel, "gid", a.st_gid, b.st_gid);
  if (!S_ISDIR(a.st_mode)) d.check(rel, "nlink", a.st_nlink, b.st_nlink);
  if (S_ISREG(a.st_mode) || S_ISLNK(a.st_mode)) d.check(rel, "size", a.st_size, b.st_size);
  if (S_ISCHR(a.st_mode) || S_ISBLK(a.st_mode)) d.check(rel, "rdev", a.st_rdev, b.st_rdev);
  if (S_ISLNK(a.st_mode)) d.check(rel, "target", link_target(pa), link_target(pb));
  bool mtime = opts.mtimes && !S_ISLNK(a.st_mode) && (!rel.empty() || opts.root_mtime);
  if (mtime) {
    d.check(rel, "mtime", a.st_mtim.tv_sec, b.st_mtim.tv_sec);
    d.check(rel, "mtime ns", a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
  }
  // A sparse file stays sparse: no more than its data plus a little (block rounding) allocated.
  if (S_ISREG(a.st_mode) && a.st_blocks * 512 < a.st_size)
    d.check(rel, "sparse (allocated <= original + 64K)", true, b.st_blocks <= a.st_blocks + 128);
  auto xa = xattrs(pa), xb = xattrs(pb);
  for (const auto& [k, v] : xa) d.check(rel, ("xattr " + k).c_str(), std::string(v.size() ? "present" : "empty"),
                                        std::string(xb.count(k) ? (xb[k] == v ? (v.size() ? "present" : "empty") : "different") : "missing"));
  for (const auto& [k, v] : xb)
    if (!xa.count(k)) d.out.push_back("`" + rel + "`: extra xattr " + k);
}

}  // namespace

std::vector<std::string> compare_trees(const std::string& a, const std::string& b, const TreeCompareOptions& opts) {
  Differ d;
  auto pa = relative_paths(a), pb = relative_paths(b);
  for (const auto& p : pa)
    if (!std::binary_search(pb.begin(), pb.end(), p)) d.out.push_back("`" + p + "`: missing in the copy");
  for (const auto& p : pb)
    if (!std::binary_search(pa.begin(), pa.end(), p)) d.out.push_back("`" + p + "`: extra in the copy");
  // Hard links: names sharing an inode in one tree share one in the other.
  std::map<ino_t, std::string> first_a;
  std::map<ino_t, std::string> first_b;
  for (const auto& rel : pa) {
    if (!std::binary_search(pb.begin(), pb.end(), rel)) continue;
    std::string x = rel.empty() ? a : a + "/" + rel, y = rel.empty() ? b : b + "/" + rel;
    compare_entry(d, rel, x, y, opts);
    struct stat sa, sb;
    if (::lstat(x.c_str(), &sa) == 0 && ::lstat(y.c_str(), &sb) == 0 && !S_ISDIR(sa.st_mode) && sa.st_nlink > 1) {
      auto ia = first_a.try_emplace(sa.st_ino, rel).first->second;
      auto ib = first_b.try_emplace(sb.st_ino, rel).first->second;
      d.check(rel, "hard link of", ia, ib);
    }
  }
  return d.out;
}

}  // namespace cove::test
