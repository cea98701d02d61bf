// cove-build: an image from a recipe (FROM, RUN, COPY, ENV, CONFIG, VERSION), each step a
// cached layer, the result imported into the cove path's image store under -t ALIAS.
#include <unistd.h>

#include <cstdio>

#include "base/interrupt.hpp"
#include "build/image_build.hpp"
#include "tools/common/progress.hpp"
#include "tools/common/tool_main.hpp"

using namespace cove;
using namespace cove::tools;

int main(int argc, char** argv) {
  po::options_description o("cove-build options");
  o.add_options()("file,f", po::value<std::string>(), "the recipe")(
      "tag,t", po::value<std::string>(), "the image's alias in the store (moved from another image)");
  ToolSpec spec{"cove-build", "-f RECIPE -t ALIAS",
                "Build an image from a recipe in cove containers; unchanged steps come from the layer cache.", false};
  return tool_main(argc, argv, spec, o, [&](const Common& c, const po::variables_map& vm) -> Result<int> {
    if (!vm.count("file")) return usage_error("-f RECIPE is required");
    if (!vm.count("tag")) return usage_error("-t ALIAS is required");
    build::BuildOptions bo;
    bo.recipe_file = vm["file"].as<std::string>();
    bo.alias = vm["tag"].as<std::string>();
    bo.on_step = [](const build::StepEvent& e) {
      const char* what = e.what == build::StepEvent::What::kCached ? " (cached)" : "";
      std::printf("step %zu/%zu: %s%s\n", e.index, e.total, e.text.c_str(), what);
      std::fflush(stdout);
    };
    catch_interrupts();
    TerminalProgress progress("packing " + bo.alias);
    bo.progress = progress.callback();
    auto r = build::build_image(c.lxcpath, bo);
    progress.finish();
    if (!r) return std::move(r).error().context("build `" + bo.alias + "` from `" + bo.recipe_file + "`");
    std::printf("%s sha256:%s as %s, version %s (%zu steps: %zu cached, %zu run)\n",
                r->already_present ? "unchanged image" : "built image", r->image.hash.c_str(), bo.alias.c_str(),
                r->version.c_str(), r->steps, r->cached, r->ran);
    return 0;
  });
}
