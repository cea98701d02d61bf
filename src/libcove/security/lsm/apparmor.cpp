// AppArmor backend (libapparmor). A named profile must already be loaded; `unconfined` needs no
// profile; `generated` renders the template apparmor/cove-container from cove's config
// directory (@PROFILE@ becomes `cove-KEY`) into the runtime dir and loads it with
// `apparmor_parser -r`, replacing the previous version of that container's profile.
#include <sys/apparmor.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.hpp"
#include "paths.hpp"
#include "process/child_process.hpp"
#include "security/lsm/lsm.hpp"

#ifndef COVE_CONFDIR
#define COVE_CONFDIR "/usr/local/share/cove/config"
#endif

namespace cove::security::lsm {
namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

// `mode` is -r (load or replace) or -R (remove).
Result<void> run_parser(const char* mode, const std::string& file) {
  auto child = process::spawn([&] {
    const char* argv[] = {"apparmor_parser", mode, "-K", file.c_str(), nullptr};
    ::execvp("apparmor_parser", const_cast<char**>(argv));
    return 127;
  });
  if (!child) return std::move(child).error().context("run apparmor_parser");
  auto waited = child->wait();
  if (!waited) return std::move(waited).error().context("run apparmor_parser");
  int st = *waited;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return Error(ENOENT, "apparmor_parser not found (package apparmor)");
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Error(EIO, std::string("apparmor_parser ") + mode + " `" + file + "` failed (status " + std::to_string(WEXITSTATUS(st)) + ")");
  return {};
}

class AppArmor final : public Lsm {
 public:
  std::string_view name() const override { return "apparmor"; }

  Result<std::string> prepare(const std::string& value, const std::string& key,
                              const std::string& runtime_dir) override {
    if (value != "generated") return value;
    std::string tmpl_path = find_data("config/apparmor/cove-container", std::string(COVE_CONFDIR) + "/apparmor/cove-container");
    auto tmpl = read_file(tmpl_path);
    if (!tmpl) return std::move(tmpl).error().context("read AppArmor profile template");
    const std::string& profile = key;  // the label chosen by lifecycle/security_plan
    std::string file = runtime_dir + "/" + profile;
    COVE_TRY(write_file(file, replace_all(*tmpl, "@PROFILE@", profile), 0600));
    if (auto r = run_parser("-r", file); !r) return std::move(r).error().context("load AppArmor profile `" + profile + "`");
    return profile;
  }

  Result<void> unload_generated(const std::string& label, const std::string& runtime_dir) override {
    std::string file = runtime_dir + "/" + label;
    if (!path_exists(file)) return {};
    if (auto r = run_parser("-R", file); !r) return std::move(r).error().context("unload AppArmor profile `" + label + "`");
    if (::unlink(file.c_str()) < 0 && errno != ENOENT) return Error::from_errno(errno, "remove `" + file + "`");
    return {};
  }

  Result<void> set_exec_label(const std::string& label) override {
    if (label.empty()) return {};
    if (::aa_change_onexec(label.c_str()) < 0)
      return Error::from_errno(errno, "change AppArmor profile on exec to `" + label + "`");
    return {};
  }
};

}  // namespace

Result<std::unique_ptr<Lsm>> make_apparmor() { return std::unique_ptr<Lsm>(new AppArmor()); }

}  // namespace cove::security::lsm
