#include "storage/loop_device.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/fs.hpp"
#include "base/list_dir.hpp"
#include "base/strings.hpp"

namespace cove::storage {

Result<LoopDevice> attach_loop(const std::string& image, bool readonly) {
  UniqueFd backing(::open(image.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW));
  if (!backing) return Error::from_errno(errno, "open image `" + image + "`");
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control) return Error::from_errno(errno, "open `/dev/loop-control`");
  // Another process may take the free device between GET_FREE and CONFIGURE: try again.
  for (int attempt = 0; attempt < 64; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return Error::from_errno(errno, "find a free loop device");
    LoopDevice d;
    d.path = "/dev/loop" + std::to_string(n);
    d.fd.reset(::open(d.path.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (!d.fd) {
      if (errno == ENOENT) continue;
      return Error::from_errno(errno, "open `" + d.path + "`");
    }
    struct loop_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.fd = static_cast<uint32_t>(backing.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (readonly ? LO_FLAGS_READ_ONLY : 0);
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(d.fd.get(), LOOP_CONFIGURE, &cfg) < 0) {
      if (errno == EBUSY) continue;
      return Error::from_errno(errno, "configure `" + d.path + "` on `" + image + "`");
    }
    struct stat st;
    if (::fstat(d.fd.get(), &st) < 0) return Error::from_errno(errno, "stat `" + d.path + "`");
    d.dev = st.st_rdev;
    return d;
  }
  return Error(EBUSY, "no free loop device for `" + image + "` (64 tries)");
}

std::string loop_of_image(const std::string& image) {
  auto names = list_dir("/sys/block");
  if (!names) return "";
  for (const auto& n : *names) {
    if (n.rfind("loop", 0) != 0) continue;
    auto f = read_file("/sys/block/" + n + "/loop/backing_file");
    if (f && trim(*f) == image) return "/dev/" + n;
  }
  return "";
}

}  // namespace cove::storage
