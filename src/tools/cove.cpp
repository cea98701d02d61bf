// cove: the verb dispatcher. `cove start -n web` runs `cove-start -n web`: the sibling
// executable next to this one, else from PATH.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "paths.hpp"

namespace {
const char* kVerbs[] = {"create", "destroy", "start",  "stop",     "wait",  "attach", "console",
                        "execute", "info",   "ls",    "freeze", "unfreeze", "cgroup",
                        "checkpoint", "restore", "migrate", "network", "autostart"};

void usage(FILE* out) {
  std::fprintf(out, "Usage: cove VERB [OPTIONS]\nVerbs:");
  for (const char* v : kVerbs) std::fprintf(out, " %s", v);
  std::fprintf(out, "\n`cove VERB --help` shows the options of each.\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    usage(stdout);
    return 0;
  }
  if (verb == "--version") {
    std::printf("cove %s\n", COVE_VERSION);
    return 0;
  }
  bool known = false;
  for (const char* v : kVerbs) known |= verb == v;
  if (!known) {
    std::fprintf(stderr, "cove: unknown verb '%s'\n", verb.c_str());
    usage(stderr);
    return 2;
  }
  std::string tool = "cove-" + verb;
  std::string local = cove::self_exe_dir() + "/" + tool;
  std::vector<char*> args;
  args.push_back(tool.data());
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  if (::access(local.c_str(), X_OK) == 0) ::execv(local.c_str(), args.data());
  ::execvp(tool.c_str(), args.data());
  std::fprintf(stderr, "cove: cannot run '%s': %s\n", tool.c_str(), std::strerror(errno));
  return 127;
}
