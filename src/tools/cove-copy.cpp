// cove-copy: copy a stopped container under a new name (a full copy, a snapshot clone that
// shares the source's files, or an ephemeral clone that is destroyed when it stops).
#include "base/interrupt.hpp"
#include "base/strings.hpp"
#include "container.hpp"
#include "tools/common/progress.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-copy options");
  o.add_options()("newname,N", po::value<std::string>(), "the copy's name")(
      "newpath,p", po::value<std::string>(), "the copy's cove path (default: the source's)")(
      "snapshot,s", po::bool_switch(), "a snapshot clone: overlay over the source (dir, overlay), btrfs snapshot")(
      "ephemeral,e", po::bool_switch(), "a snapshot clone that starts now and is destroyed when it stops")(
      "backend,B", po::value<std::string>(), "a full copy's backend: dir, loop, btrfs (default: the source's)")(
      "size", po::value<std::string>(), "the copy's quota (loop image, btrfs qgroup, overlay upper image)");
  ToolSpec spec{"cove-copy", "-n NAME -N NEWNAME [-p NEWPATH] [-s | -e] [-B BACKEND] [--size SIZE]",
                "Copy a stopped container; the copy gets its own id range, MAC addresses and hostname."};
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    if (!vm.count("newname")) return usage_error("-N NEWNAME is required");
    CopyOptions co;
    co.new_name = vm["newname"].as<std::string>();
    if (vm.count("newpath")) co.new_path = vm["newpath"].as<std::string>();
    co.snapshot = vm["snapshot"].as<bool>();
    co.ephemeral = vm["ephemeral"].as<bool>();
    if (vm.count("backend")) co.backend = vm["backend"].as<std::string>();
    if (vm.count("size")) {
      auto s = parse_size(vm["size"].as<std::string>());
      if (!s) return usage_error("--size `" + vm["size"].as<std::string>() + "` is not a size (e.g. 10G)");
      co.size = *s;
    }
    catch_interrupts();
    TerminalProgress progress("copying " + c.name);
    co.progress = progress.callback();
    Container ct(c.lxcpath, c.name);
    if (auto r = ct.copy(co); !r) {
      progress.finish();
      return std::move(r).error().context("copy `" + c.name + "` to `" + co.new_name + "`");
    }
    progress.finish();
    if (co.ephemeral) {
      Container copy(co.new_path.empty() ? c.lxcpath : co.new_path, co.new_name);
      if (auto r = copy.start(StartOptions{}); !r) {
        (void)copy.destroy(true);
        return std::move(r).error().context("start ephemeral `" + co.new_name + "`");
      }
    }
    return 0;
  });
}
