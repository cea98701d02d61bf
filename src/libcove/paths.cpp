#include "paths.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <fmt/format.h>

#include "base/fs.hpp"
#include "base/sealed_exec.hpp"
#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "host_config.hpp"

#ifndef COVE_LIBEXECDIR
#define COVE_LIBEXECDIR "/usr/local/libexec/cove"
#endif

namespace cove {

namespace {
// RUNTIME_DIR/KEY/command must fit a socket address (107 bytes): the name part of a hashed key
// (NAME-<32 hex>) is cut to what is left (56 characters under /run/cove).
size_t key_name_max(const std::string& runtime_dir) {
  return 107 - runtime_dir.size() - std::string_view("/-/command").size() - 32;
}

// The real path of the cove path (symlinks resolved), or, where it does not exist yet, of its
// longest existing prefix followed by the rest.
std::string resolve_lxcpath(const std::string& lxcpath) {
  std::error_code ec;
  std::string out = std::filesystem::weakly_canonical(absolute_path(lxcpath), ec).string();
  if (ec) out = absolute_path(lxcpath);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string canonical_lxcpath(const std::string& lxcpath) {
  // A listing makes several ContainerPaths per container, all of one cove path: resolving it
  // once per thread spares a readlink per path component for each (16 per container in cove-ls).
  thread_local std::string last_in, last_out;
  if (!last_in.empty() && lxcpath == last_in && lxcpath.starts_with("/")) return last_out;
  last_out = resolve_lxcpath(lxcpath);
  // Only a path that exists (it is fully resolved): one made later may resolve otherwise.
  last_in = is_directory(last_out) ? lxcpath : std::string();
  return last_out;
}
}  // namespace

ContainerPaths::ContainerPaths(std::string lxcpath, std::string name)
    : lxcpath_(canonical_lxcpath(lxcpath)), name_(std::move(name)) {
  const HostConfig& host = host_config();
  // Cgroup names are made of KEY and the cgroup tree is the machine's, shared by every host
  // config on it (a second "host" on one machine): only the built-in default path, which one
  // machine has once, gets the bare NAME.
  key_ = lxcpath_ == HostConfig{}.path
             ? name_
             : fmt::format("{}-{}", name_.substr(0, key_name_max(host.runtime_dir)), sha256_hex(dir()).substr(0, 32));
  runtime_dir_ = host.runtime_dir + "/" + key_;
}

Result<void> validate_name(const std::string& name) {
  if (name.empty()) return Error::invalid("container name is empty");
  if (name.size() > 64) return Error::invalid(fmt::format("container name `{}` is longer than 64 characters", name));
  if (name[0] == '.' || name[0] == '-')
    return Error::invalid(fmt::format("container name `{}` must not start with '.' or '-'", name));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok)
      return Error::invalid(fmt::format("container name `{}` has character '{}' (allowed: letters, digits, _ . -)",
                                        name, c));
  }
  return {};
}

std::string self_exe_dir() {
  // A tool running from its sealed copy (base/sealed_exec.hpp) lives next to the original.
  if (!original_exe().empty()) return dirname_of(original_exe());
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return dirname_of(buf);
}

std::string find_data(const std::string& rel, const std::string& installed) {
  if (const char* d = std::getenv("COVE_DATADIR"); d && *d) {
    for (const auto& dir : split(d, ':')) {
      std::string p = dir + "/" + rel;
      if (!dir.empty() && path_exists(p)) return p;
    }
  }
  std::string local = self_exe_dir() + "/" + rel;
  if (path_exists(local)) return local;
  return installed;
}

std::string find_helper(const std::string& name) {
  std::string local = self_exe_dir() + "/" + name;
  if (::access(local.c_str(), X_OK) == 0) return local;
  return std::string(COVE_LIBEXECDIR) + "/" + name;
}

}  // namespace cove
