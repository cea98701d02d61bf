// translate_lxc_keys: the lxc.* lines an LXC template appends become cove keys or comments.
#include "config/lxc_keys.hpp"
#include "support.hpp"

namespace cove::config {
namespace {

TEST(LxcKeys, CommonKeysBecomeCoveKeys) {
  auto t = translate_lxc_keys(
      "[container]\nttys = 2\n"
      "lxc.rootfs.path = dir:/var/lib/cove/c/rootfs\n"
      "lxc.signal.halt = SIGUSR1\nlxc.signal.reboot = SIGTERM\n"
      "lxc.uts.name = \"c\"\nlxc.tty.max = 5\n"
      "lxc.mount.entry = /lib lib none ro,bind 0 0\n"
      "lxc.init.cmd = /sbin/init --x\nlxc.environment = A=b\n");
  EXPECT_EQ(t.translated, 8);
  EXPECT_TRUE(t.warnings.empty());
  for (const char* want : {"\n[container]\nrootfs = /var/lib/cove/c/rootfs\n", "\nhalt_signal = SIGUSR1\n",
                           "\nreboot_signal = SIGTERM\n", "\nhostname = c\n", "\nttys = 5\n",
                           "\n[mount]\nentry = /lib lib none ro,bind 0 0\n", "\n[container]\ninit = /sbin/init --x\n",
                           "\ninit.env = A=b\n"})
    EXPECT_NE(t.text.find(want), std::string::npos) << want << "\n---\n" << t.text;
  EXPECT_EQ(t.text.find("\nlxc."), std::string::npos) << t.text;
}

// LXC's autostart keys are cove-autostart's [boot] keys.
TEST(LxcKeys, StartKeysBecomeBootKeys) {
  auto t = translate_lxc_keys("[container]\nttys = 2\nlxc.start.auto = 1\nlxc.start.order = -5\nlxc.start.delay = 3\n");
  EXPECT_EQ(t.translated, 3);
  EXPECT_TRUE(t.warnings.empty());
  for (const char* want : {"\n[boot]\nautostart = 1\n", "\n[boot]\norder = -5\n", "\n[boot]\ndelay = 3\n"})
    EXPECT_NE(t.text.find(want), std::string::npos) << want << "\n---\n" << t.text;
}

TEST(LxcKeys, OthersAreCommentedOutWithAWarning) {
  auto t = translate_lxc_keys("lxc.cap.drop = sys_module\nlxc.rootfs.path = btrfs:/x\nlxc.autodev = 1\n");
  EXPECT_EQ(t.translated, 0);
  ASSERT_EQ(t.warnings.size(), 3u);
  EXPECT_NE(t.warnings[0].find("`lxc.cap.drop`"), std::string::npos);
  EXPECT_NE(t.text.find("# not translated by cove-create: lxc.cap.drop = sys_module\n"), std::string::npos);
  EXPECT_NE(t.text.find("# not translated by cove-create: lxc.autodev = 1\n"), std::string::npos);
}

TEST(LxcKeys, PlainKeysAfterATranslatedOneStayInTheirSection) {
  auto t = translate_lxc_keys("[security]\nlxc.mount.entry = a b none bind 0 0\nseccomp = none\n");
  EXPECT_NE(t.text.find("entry = a b none bind 0 0\n[security]\nseccomp = none\n"), std::string::npos) << t.text;
  auto same = translate_lxc_keys("[container]\nttys = 1\n");
  EXPECT_EQ(same.text, "[container]\nttys = 1\n");
  EXPECT_EQ(same.translated, 0);
}

}  // namespace
}  // namespace cove::config
