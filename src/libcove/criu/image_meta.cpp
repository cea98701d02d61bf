#include "criu/image_meta.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.hpp"

namespace cove::criu {

using Json = nlohmann::json;

namespace {
Json idmap_json(const std::vector<ns::IdMapEntry>& m) {
  Json a = Json::array();
  for (const auto& e : m) a.push_back({e.container_id, e.host_id, e.count});
  return a;
}
std::vector<ns::IdMapEntry> idmap_from(const Json& a) {
  std::vector<ns::IdMapEntry> out;
  if (!a.is_array()) return out;
  for (const auto& e : a)
    if (e.is_array() && e.size() == 3) out.push_back({e[0].get<uint32_t>(), e[1].get<uint32_t>(), e[2].get<uint32_t>()});
  return out;
}
}  // namespace

bool needs_network_lock(const std::vector<std::string>& interfaces) {
  if (interfaces.empty()) return true;
  for (const auto& name : interfaces)
    if (name != "lo") return true;
  return false;
}

int compare_versions(const std::string& a, const std::string& b) {
  std::istringstream ia(a), ib(b);
  for (;;) {
    std::string pa, pb;
    bool ha = static_cast<bool>(std::getline(ia, pa, '.'));
    bool hb = static_cast<bool>(std::getline(ib, pb, '.'));
    if (!ha && !hb) return 0;
    long va = ha ? std::strtol(pa.c_str(), nullptr, 10) : 0;
    long vb = hb ? std::strtol(pb.c_str(), nullptr, 10) : 0;
    if (va != vb) return va < vb ? -1 : 1;
  }
}

std::string hash_text(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

std::string encode_meta(const ImageMeta& m) {
  Json mounts = Json::array();
  for (const auto& x : m.mounts) mounts.push_back({{"key", x.key}, {"mountpoint", x.mountpoint}, {"source", x.source}});
  Json pipes = Json::array();
  for (const auto& p : m.pipes) pipes.push_back({{"inode", p.inode}, {"write_end", p.write_end}});
  Json j = {{"format", m.format},
            {"cove_version", m.cove_version},
            {"criu_version", m.criu_version},
            {"container", m.container},
            {"lxcpath", m.lxcpath},
            {"rootfs", m.rootfs},
            {"config_hash", m.config_hash},
            {"privileged", m.privileged},
            {"uid_map", idmap_json(m.uid_map)},
            {"gid_map", idmap_json(m.gid_map)},
            {"console_pts", m.console_pts},
            {"tty_pts", m.tty_pts},
            {"mounts", mounts},
            {"pipes", pipes},
            {"interfaces", m.interfaces},
            {"external_netns", m.external_netns},
            {"stopped", m.stopped},
            {"frozen", m.frozen},
            {"dumped_at_ms", m.dumped_at_ms},
            {"stats",
             {{"freezing_time_us", m.stats.freezing_time_us},
              {"frozen_time_us", m.stats.frozen_time_us},
              {"memdump_time_us", m.stats.memdump_time_us},
              {"memwrite_time_us", m.stats.memwrite_time_us},
              {"pages_scanned", m.stats.pages_scanned},
              {"pages_written", m.stats.pages_written}}}};
  return j.dump(2) + "\n";
}

Result<ImageMeta> decode_meta(const std::string& text) {
  auto j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(EINVAL, "malformed `" + std::string(kMetaFile) + "`");
  try {
    ImageMeta m;
    m.format = j.value("format", 0);
    m.cove_version = j.value("cove_version", "");
    m.criu_version = j.value("criu_version", "");
    m.container = j.value("container", "");
    m.lxcpath = j.value("lxcpath", "");
    m.rootfs = j.value("rootfs", "");
    m.config_hash = j.value("config_hash", "");
    m.privileged = j.value("privileged", false);
    m.uid_map = idmap_from(j.value("uid_map", Json::array()));
    m.gid_map = idmap_from(j.value("gid_map", Json::array()));
    m.console_pts = j.value("console_pts", -1);
    m.tty_pts = j.value("tty_pts", std::vector<int>{});
    for (const auto& x : j.value("mounts", Json::array()))
      m.mounts.push_back({x.value("key", ""), x.value("mountpoint", ""), x.value("source", "")});
    for (const auto& p : j.value("pipes", Json::array()))
      m.pipes.push_back({p.value("inode", uint64_t{0}), p.value("write_end", false)});
    m.interfaces = j.value("interfaces", std::vector<std::string>{});
    m.external_netns = j.value("external_netns", std::string());
    m.stopped = j.value("stopped", false);
    m.frozen = j.value("frozen", false);
    m.dumped_at_ms = j.value("dumped_at_ms", int64_t{0});
    if (auto s = j.find("stats"); s != j.end() && s->is_object()) {
      m.stats.freezing_time_us = s->value("freezing_time_us", 0u);
      m.stats.frozen_time_us = s->value("frozen_time_us", 0u);
      m.stats.memdump_time_us = s->value("memdump_time_us", 0u);
      m.stats.memwrite_time_us = s->value("memwrite_time_us", 0u);
      m.stats.pages_scanned = s->value("pages_scanned", uint64_t{0});
      m.stats.pages_written = s->value("pages_written", uint64_t{0});
    }
    return m;
  } catch (const std::exception& e) {
    return Error(EINVAL, "malformed `" + std::string(kMetaFile) + "`: " + e.what());
  }
}

Result<void> write_meta(const std::string& images_dir, const ImageMeta& m) {
  return write_file_atomic(images_dir + "/" + kMetaFile, encode_meta(m), 0600);
}

Result<ImageMeta> read_meta(const std::string& images_dir) {
  if (!is_directory(images_dir)) return Error(ENOENT, "no image directory `" + images_dir + "`");
  auto text = read_file(images_dir + "/" + kMetaFile);
  if (!text) {
    if (text.error().code() == ENOENT)
      return Error(ENOENT, "`" + images_dir + "` holds no cove checkpoint (no `" + kMetaFile + "`)");
    return std::move(text).error();
  }
  auto m = decode_meta(*text);
  if (!m) return std::move(m).error().context("`" + images_dir + "`");
  return m;
}

Result<void> check_restorable(const ImageMeta& m, const std::string& container, const std::string& criu_version) {
  if (m.format > kImageFormat || m.format <= 0)
    return Error(ENOTSUP, fmt::format("the checkpoint has image format {} (cove {}); this cove reads format {}",
                                      m.format, m.cove_version.empty() ? "?" : m.cove_version, kImageFormat));
  if (!container.empty() && m.container != container)
    return Error(EINVAL, fmt::format("the checkpoint is of container `{}`, not `{}`", m.container, container));
  if (!criu_version.empty() && !m.criu_version.empty() && compare_versions(m.criu_version, criu_version) > 0)
    return Error(ENOTSUP, fmt::format("the checkpoint was made by CRIU {}, newer than this host's CRIU {}",
                                      m.criu_version, criu_version));
  return {};
}

}  // namespace cove::criu
