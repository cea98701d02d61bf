// The local image store of a cove path: PATH/.images (mode 0700: image trees hold set-user-ID
// files and device nodes owned by the container's ids, which are host ids 0.. on disk).
//   sha256/HASH/{metadata.json, config, rootfs/}   an image, unpacked once; HASH is its content
//                                                  hash. rootfs/ holds container ids and is the
//                                                  read-only base containers are made from.
//   aliases/ALIAS -> ../sha256/HASH                names (symlinks, never followed: read)
//   .tmp-XXXXXX/                                   an import (or removal) in progress
//   .lock                                          flock: serialises changes to the above
// An import unpacks into .tmp-XXXXXX while holding flock on .tmp-XXXXXX/.lock, and renames
// it into place when complete: a killed import leaves only a .tmp-* whose lock is free, which
// the next import or list removes. Images are read by the storage backends (overlay lowers,
// btrfs snapshots) through StoredImage::rootfs(); a container using one names it in its config
// (`[rootfs] lower = DIR`), and removal refuses while one does.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/image_info.hpp"

namespace cove::images {

struct StoredImage {
  std::string hash;                  // 64 hex digits
  std::string dir;                   // PATH/.images/sha256/HASH
  std::vector<std::string> aliases;  // sorted
  ImageMetadata metadata;
  std::string rootfs() const { return dir + "/rootfs"; }
  std::string config_file() const { return dir + "/config"; }
};

struct ImportReport {
  StoredImage image;
  bool already_present = false;      // the same rootfs was in the store: only the alias changed
  uint64_t rootfs_bytes = 0;
};

class ImageStore {
 public:
  // `lxcpath`: the cove path (made canonical, like ContainerPaths does).
  explicit ImageStore(const std::string& lxcpath);
  const std::string& root() const { return root_; }

  // Imports the archive `file`; `alias` ("" for none) then names it (moved from another image).
  Result<ImportReport> import(const std::string& file, const std::string& alias, const ProgressFn& progress);
  // Every image, by alias then hash.
  Result<std::vector<StoredImage>> list();
  // `ref`: an alias, a hash, or a unique prefix of one (at least 4 hex digits). ENOENT when
  // nothing matches; EINVAL for an ambiguous prefix.
  Result<StoredImage> find(const std::string& ref);
  // Removes the image `ref` with every alias of it; EBUSY while a container's config names it
  // as a lower layer.
  Result<void> remove(const std::string& ref);
  // Names the image `hash` `alias` (replacing what the alias named before).
  Result<void> set_alias(const std::string& alias, const std::string& hash);
  // The hash of the image whose unpacked base is `path` (exactly StoredImage::rootfs() of an
  // image of this store); "" when `path` is not one.
  std::string image_of_rootfs(const std::string& path) const;
  // The config text an image came with (what cove-create -t image:ALIAS starts from).
  Result<std::string> config_text(const StoredImage& image);

 private:
  std::string sha_dir() const { return root_ + "/sha256"; }
  std::string alias_dir() const { return root_ + "/aliases"; }
  std::string lxcpath_, root_;
};

// The configs in `lxcpath` whose `[rootfs] lower` names something inside `image_dir`: the
// names of the containers using the image.
std::vector<std::string> containers_using(const std::string& lxcpath, const std::string& image_dir);

}  // namespace cove::images
