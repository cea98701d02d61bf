// The OCI template, cove-create -t oci -- --image SOURCE (issue 14): a small image is built in
// the test, offline, with umoci (busybox-static, an entrypoint script, a file owned by uid 1000,
// env and a working directory) and exported with skopeo as a docker-archive. A container made
// from it (unprivileged, the default) starts with the image's entrypoint as init, its env and
// cwd, and the image's owners as container ids; bad sources fail with a message and leave no
// container; a command cove's init cannot carry is refused.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support.hpp"

namespace cove::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEntry =
    "#!/bin/sh\n"
    "env > /out.env\n"
    "pwd > /out.pwd\n"
    "echo \"$@\" > /out.args\n"
    "exec sleep 100000\n";

class OciTemplateTest : public ContainerTest {
 protected:
  void SetUp() override {
    ContainerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* tool : {"umoci", "skopeo", "jq"})
      if (run_cmd({"sh", "-c", std::string("command -v ") + tool}).status != 0)
        GTEST_SKIP() << tool << " is not installed (scripts/install-deps)";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "no /bin/busybox (busybox-static)";
  }

  void must(const std::vector<std::string>& argv) {
    auto r = run_cmd(argv, 120);
    ASSERT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err;
  }

  // An OCI layout `layout_` with the image `t`: busybox and its applets, /entry.sh, /data/owned
  // (uid and gid 1000), /work; then `config_args` for `umoci config` (entrypoint, env, ...).
  // The config goes on after the repack: a repack starts from the manifest it unpacked.
  void build_image(const std::vector<std::string>& config_args) {
    layout_ = path_ + "/layout";
    std::string bundle = path_ + "/bundle";
    must({"umoci", "init", "--layout", layout_});
    must({"umoci", "new", "--image", layout_ + ":t"});
    must({"umoci", "unpack", "--image", layout_ + ":t", bundle});
    std::string r = bundle + "/rootfs";
    fs::create_directories(r + "/bin");
    fs::create_directories(r + "/data");
    fs::create_directories(r + "/work");
    fs::copy_file("/bin/busybox", r + "/bin/busybox");
    for (const char* a : {"sh", "env", "pwd", "cat", "id", "ls", "stat", "sleep", "echo"})
      fs::create_symlink("busybox", r + "/bin/" + a);
    std::ofstream(r + "/data/owned") << "hi\n";
    ASSERT_EQ(::chown((r + "/data/owned").c_str(), 1000, 1000), 0);
    std::ofstream(r + "/entry.sh") << kEntry;
    ::chmod((r + "/entry.sh").c_str(), 0755);
    must({"umoci", "repack", "--image", layout_ + ":t", bundle});
    std::vector<std::string> cfg = {"umoci", "config", "--image", layout_ + ":t"};
    cfg.insert(cfg.end(), config_args.begin(), config_args.end());
    must(cfg);
    fs::remove_all(bundle);
  }

  void build_default_image() {
    build_image({"--config.entrypoint", "/entry.sh", "--config.cmd", "first", "--config.cmd", "second",
                 "--config.env", "GREETING=hello", "--config.env", "SPACED=a b", "--config.workingdir", "/work"});
  }

  RunResult create_oci(const std::string& name, const std::string& source) {
    names_.push_back(name);
    return cove("cove-create", name, {"-t", "oci", "--", "--image", source}, 120);
  }

  // Starts `name` and checks what the entrypoint saw: args, env, cwd; the image's owners inside.
  void check_runs_as_image_says(const std::string& name) {
    auto st = cove("cove-start", name);
    ASSERT_EQ(st.status, 0) << st.err;
    std::string rootfs = path_ + "/" + name + "/rootfs";
    ASSERT_TRUE(eventually([&] { return !read_text(rootfs + "/out.args").empty(); })) << "the entrypoint did not run";
    EXPECT_EQ(trim_str(read_text(rootfs + "/out.args")), "first second");
    EXPECT_EQ(trim_str(read_text(rootfs + "/out.pwd")), "/work");
    std::string env = read_text(rootfs + "/out.env");
    EXPECT_NE(env.find("GREETING=hello\n"), std::string::npos) << env;
    EXPECT_NE(env.find("SPACED=a b\n"), std::string::npos) << env;
    EXPECT_NE(env.find("PATH=/usr/local/sbin:"), std::string::npos) << env;
    // Unprivileged by default: the container's root is not the host's.
    EXPECT_EQ(cove("cove-attach", name, {"--", "/bin/sh", "-c", "read a b c < /proc/self/uid_map; test $b != 0"})
                  .status,
              0)
        << "the container runs privileged";
    EXPECT_EQ(attach_out(name, {"/bin/stat", "-c", "%u:%g", "/data/owned"}), "1000:1000");
    EXPECT_EQ(attach_out(name, {"/bin/stat", "-c", "%u:%g", "/entry.sh"}), "0:0");
    // On disk: the container's ids, as in the image (cove maps them with an idmapped mount).
    struct stat sb;
    ASSERT_EQ(::stat((rootfs + "/data/owned").c_str(), &sb), 0);
    EXPECT_EQ(sb.st_uid, 1000u);
    EXPECT_EQ(sb.st_gid, 1000u);
    ASSERT_EQ(::stat(rootfs.c_str(), &sb), 0);
    EXPECT_EQ(sb.st_uid, 0u);
  }

  void expect_no_container(const std::string& name) {
    EXPECT_FALSE(fs::exists(path_ + "/" + name)) << "the failed create left its directory";
    auto ls = cove("cove-ls", "");
    EXPECT_EQ(ls.out.find(name), std::string::npos) << ls.out;
    // No temporary image copy left anywhere in the cove path either.
    for (const auto& e : fs::directory_iterator(path_))
      EXPECT_EQ(e.path().filename().string().rfind(".cove-oci", 0), std::string::npos) << e.path();
  }

  std::string layout_;
};

TEST_F(OciTemplateTest, FromOciLayoutRunsTheEntrypointWithEnvAndCwd) {
  build_default_image();
  auto r = create_oci("oci1", "oci:" + layout_ + ":t");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string config = read_text(path_ + "/oci1/config");
  EXPECT_NE(config.find("\ninit = /entry.sh first second\n"), std::string::npos) << config;
  EXPECT_NE(config.find("\ninit.cwd = /work\n"), std::string::npos) << config;
  EXPECT_NE(config.find("\ninit.env = SPACED=a b\n"), std::string::npos) << config;
  EXPECT_FALSE(fs::exists(path_ + "/oci1/rootfs/dev/null"));
  check_runs_as_image_says("oci1");
}

TEST_F(OciTemplateTest, FromDockerArchive) {
  build_default_image();
  std::string archive = path_ + "/image.tar";
  must({"skopeo", "--insecure-policy", "copy", "--quiet", "oci:" + layout_ + ":t", "docker-archive:" + archive});
  auto r = create_oci("dock1", "docker-archive:" + archive);
  ASSERT_EQ(r.status, 0) << r.err;
  check_runs_as_image_says("dock1");
}

// A bare command is looked up in the image's PATH inside the rootfs: /bin/sh is a relative
// symbolic link there (to busybox), which must be followed in the rootfs, not on the host.
TEST_F(OciTemplateTest, BareCommandIsFoundInTheImagesPath) {
  build_image({"--config.entrypoint", "sh", "--config.cmd", "/entry.sh", "--config.workingdir", "/work"});
  auto r = create_oci("bare", "oci:" + layout_ + ":t");
  ASSERT_EQ(r.status, 0) << r.err;
  std::string config = read_text(path_ + "/bare/config");
  EXPECT_NE(config.find("\ninit = /bin/sh /entry.sh\n"), std::string::npos) << config;
  auto st = cove("cove-start", "bare");
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_TRUE(eventually([&] { return trim_str(read_text(path_ + "/bare/rootfs/out.pwd")) == "/work"; }));
}

TEST_F(OciTemplateTest, BadSourcesFailAndLeaveNoContainer) {
  struct Case {
    std::string source, message;
  } cases[] = {
      {"docker://debian:bookworm", "transport 'docker' is not a local file"},
      {"docker-archive:" + path_ + "/missing.tar", "does not exist"},
      {"oci:" + path_ + "/no-layout:t", "does not exist"},
      {"https://example.org/image.tar", "unknown or network transport 'https'"},
      {path_ + "/image.tar", "names no transport"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.source);
    auto r = cove("cove-create", "bad", {"-t", "oci", "--", "--image", c.source}, 60);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    expect_no_container("bad");
  }
  // A layout without the tag: skopeo's own error, then the template's; nothing left.
  build_default_image();
  auto r = cove("cove-create", "bad", {"-t", "oci", "--", "--image", "oci:" + layout_ + ":nosuchtag"}, 60);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("skopeo could not read the image"), std::string::npos) << r.err;
  expect_no_container("bad");
}

// cove's init is split on whitespace: an argument with a space cannot be carried, and is an
// error naming it rather than a silently different command.
TEST_F(OciTemplateTest, ArgumentWithWhitespaceIsRefused) {
  build_image({"--config.entrypoint", "/bin/sh", "--config.cmd", "-c", "--config.cmd", "echo hi"});
  auto r = create_oci("ws", "oci:" + layout_ + ":t");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("'echo hi', contains whitespace"), std::string::npos) << r.err;
  expect_no_container("ws");
  // Run by hand (cove-create removes the whole directory): the template itself leaves neither
  // its temporary copy nor a line in the config behind.
  std::string dir = path_ + "/byhand";
  fs::create_directories(dir);
  std::ofstream(dir + "/config") << "# before\n";
  auto t = run_cmd({builddir() + "/templates/cove-oci", "--name", "byhand", "--path", dir, "--rootfs", dir + "/rootfs",
                    "--image", "oci:" + layout_ + ":t"});
  EXPECT_EQ(t.status, 1) << t.err;
  EXPECT_EQ(read_text(dir + "/config"), "# before\n");
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().rfind(".cove-oci", 0), std::string::npos) << e.path();
  EXPECT_TRUE(fs::is_empty(dir + "/rootfs"));
}

TEST_F(OciTemplateTest, NonRootUserIsNotedInTheConfig) {
  build_image({"--config.entrypoint", "/entry.sh", "--config.user", "1000:1000"});
  auto r = create_oci("user", "oci:" + layout_ + ":t");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: the image runs as uid 1000 gid 1000"), std::string::npos) << r.err;
  std::string config = read_text(path_ + "/user/config");
  EXPECT_NE(config.find("# The image runs its command as uid 1000 gid 1000"), std::string::npos) << config;
}

}  // namespace
}  // namespace cove::test
