// cove-image: container images. export (a stopped container -> an archive file), import (an
// archive -> the image store of the cove path), list, show, delete. One verb per call,
// dispatched through a table; each verb names the options it takes. A live progress line goes
// to stderr when it is a terminal; Ctrl-C stops an export or import leaving nothing behind.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "container.hpp"
#include "images/image_store.hpp"
#include "tools/common/tool_main.hpp"
#include "tools/common/table.hpp"
#include "tools/common/verbs.hpp"

using namespace cove;
using namespace cove::images;
using namespace cove::tools;

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

// The first Ctrl-C asks the operation to stop (it cleans up); a second one kills at once.
void catch_interrupt() {
  struct sigaction sa = {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
}

std::string mb(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// "  812.3 MB / 1024.0 MB  245.1 MB/s  79%" on stderr, redrawn in place on a terminal.
class ProgressLine {
 public:
  ProgressLine() : tty_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  ~ProgressLine() {
    if (drawn_) std::fputc('\n', stderr);
  }
  bool update(uint64_t done, uint64_t total) {
    if (g_interrupted) return false;
    if (!tty_) return true;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    int pct = total ? static_cast<int>(std::min<uint64_t>(100, done * 100 / total)) : 0;
    std::fprintf(stderr, "\r\033[K  %s / %s  %.1f MB/s  %d%%", mb(done).c_str(), mb(total).c_str(),
                 s > 0 ? static_cast<double>(done) / 1e6 / s : 0.0, pct);
    std::fflush(stderr);
    drawn_ = true;
    return true;
  }
  ProgressFn fn() {
    return [this](uint64_t done, uint64_t total) { return update(done, total); };
  }

 private:
  bool tty_, drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

using Call = VerbCall;

Result<int> do_export(const Call& c) {
  if (c.common.name.empty()) return usage_error("export needs the container: -n NAME");
  Container ct(c.common.lxcpath, c.common.name);
  catch_interrupt();
  Result<ExportReport> r = Error();
  {
    ProgressLine line;
    r = ct.export_image(c.args[0], line.fn());
  }
  if (!r) return std::move(r).error();
  double s = static_cast<double>(r->wall_ms) / 1000.0;
  std::printf("exported `%s` to `%s`\n  content hash sha256:%s\n  rootfs %s in %llu entries, archive %s, %.1f s (%.0f MB/s)\n",
              c.common.name.c_str(), r->file.c_str(), r->metadata.content_hash.c_str(), mb(r->metadata.size).c_str(),
              static_cast<unsigned long long>(r->metadata.entries), mb(r->archive_bytes).c_str(), s,
              s > 0 ? static_cast<double>(r->rootfs_bytes) / 1e6 / s : 0.0);
  return 0;
}

Result<int> do_import(const Call& c) {
  ImageStore store(c.common.lxcpath);
  catch_interrupt();
  auto started = std::chrono::steady_clock::now();
  Result<ImportReport> r = Error();
  {
    ProgressLine line;
    r = store.import(c.args[0], c.text("alias"), line.fn());
  }
  if (!r) return std::move(r).error();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%s sha256:%s%s\n  %s, %.1f s (%.0f MB/s)\n", r->already_present ? "already present:" : "imported",
              r->image.hash.c_str(), r->image.aliases.empty() ? "" : (" as " + join(r->image.aliases, ", ")).c_str(),
              mb(r->rootfs_bytes).c_str(), s, s > 0 ? static_cast<double>(r->rootfs_bytes) / 1e6 / s : 0.0);
  return 0;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

nlohmann::json image_json(const StoredImage& i) {
  const auto& m = i.metadata;
  return {{"hash", i.hash},       {"aliases", i.aliases},   {"dir", i.dir},           {"distro", m.distro},
          {"release", m.release}, {"arch", m.arch},         {"created", m.created},   {"size", m.size},
          {"entries", m.entries}, {"source", m.source},     {"cove_version", m.cove_version}, {"version", m.version}};
}

Result<int> do_list(const Call& c) {
  auto images = ImageStore(c.common.lxcpath).list();
  if (!images) return std::move(images).error();
  if (c.flag("json")) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& i : *images) all.push_back(image_json(i));
    std::printf("%s\n", all.dump(2).c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"ALIAS", "HASH", "VERSION", "DISTRO", "RELEASE", "ARCH", "SIZE", "CREATED", "SOURCE"}};
  for (const auto& i : *images) {
    const auto& m = i.metadata;
    rows.push_back({i.aliases.empty() ? "-" : join(i.aliases, ","), i.hash.substr(0, 12), or_dash(m.version), or_dash(m.distro),
                    or_dash(m.release), or_dash(m.arch), mb(m.size), or_dash(m.created), or_dash(m.source)});
  }
  print_table(rows);
  return 0;
}

Result<int> do_show(const Call& c) {
  ImageStore store(c.common.lxcpath);
  auto i = store.find(c.args[0]);
  if (!i) return std::move(i).error();
  const auto& m = i->metadata;
  std::printf("hash: sha256:%s\naliases: %s\ndistro: %s\nrelease: %s\narch: %s\ncreated: %s\nsize: %s (%llu entries)\n"
              "source: %s\nversion: %s\ncove version: %s\nrootfs: %s\nconfig: %s\n",
              i->hash.c_str(), i->aliases.empty() ? "-" : join(i->aliases, ", ").c_str(), or_dash(m.distro).c_str(),
              or_dash(m.release).c_str(), or_dash(m.arch).c_str(), or_dash(m.created).c_str(), mb(m.size).c_str(),
              static_cast<unsigned long long>(m.entries), or_dash(m.source).c_str(), or_dash(m.version).c_str(), or_dash(m.cove_version).c_str(),
              i->rootfs().c_str(), i->config_file().c_str());
  return 0;
}

Result<int> do_delete(const Call& c) {
  COVE_TRY(ImageStore(c.common.lxcpath).remove(c.args[0]));
  return 0;
}

const std::set<std::string> kVerbOptions = {"alias", "json"};

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> kVerbs = {
      {"export", "-n NAME FILE", 1, 1, {}, do_export},
      {"import", "FILE [--alias ALIAS]", 1, 1, {"alias"}, do_import},
      {"list", "[--json]", 0, 0, {"json"}, do_list},
      {"show", "ALIAS|HASH", 1, 1, {}, do_show},
      {"delete", "ALIAS|HASH", 1, 1, {}, do_delete},
  };
  return kVerbs;
}

Result<int> dispatch(const Common& common, const po::variables_map& vm) {
  std::vector<std::string> args;
  auto picked = pick_verb("cove-image", verbs(), kVerbOptions, vm, args);
  if (!picked) return std::move(picked).error();
  const Verb* v = *picked;
  Call call{args, vm, common};
  if (!common.name.empty() && std::string(v->name) != "export")
    return usage_error(fmt::format("`{}` takes no -n NAME", v->name));
  return v->run(call);
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description o("cove-image options");
  o.add_options()("alias", po::value<std::string>(), "import: name the image ALIAS (taken from another image)")(
      "json", po::bool_switch(), "list: as a JSON array")(
      "words", po::value<std::vector<std::string>>(), "VERB and its arguments (positional)");
  static const std::string syn = verb_synopsis("cove-image", verbs());
  ToolSpec spec{"cove-image", syn.c_str(),
                "Export containers as image archives, and import, list, show and delete the images of a cove path.",
                false};
  spec.positional = "words";
  spec.optional_name = true;  // the container of export
  return tool_main(argc, argv, spec, o,
                   [&](const Common& c, const po::variables_map& vm) -> Result<int> { return dispatch(c, vm); });
}
