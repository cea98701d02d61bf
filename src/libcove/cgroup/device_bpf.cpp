// The v2 device program, written instruction by instruction (linux/bpf.h; no libbpf):
//
//   r2 = ctx->access_type & 0xffff   (BPF_DEVCG_DEV_CHAR / _BLOCK)
//   r3 = ctx->access_type >> 16      (BPF_DEVCG_ACC_MKNOD | _READ | _WRITE)
//   r4 = ctx->major; r5 = ctx->minor
//   per rule (last first): if r2 != TYPE goto next; r1 = r3 & ~ACCESS (allow) or r3 & ACCESS
//   (deny); if r1 != 0 (allow) / == 0 (deny) goto next; if r4 != MAJOR goto next;
//   if r5 != MINOR goto next; r0 = ALLOW; exit
//   r0 = 0; exit
#include "cgroup/device_bpf.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <iterator>

namespace cove::cgroup {
namespace {

struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i = {};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

struct bpf_insn load_u32(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0); }
struct bpf_insn alu_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm); }
struct bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
struct bpf_insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
struct bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// BPF_DEVCG_ACC_* bits from our r/w/m bits.
int32_t acc_bits(unsigned access) {
  int32_t a = 0;
  if (access & kAccessRead) a |= BPF_DEVCG_ACC_READ;
  if (access & kAccessWrite) a |= BPF_DEVCG_ACC_WRITE;
  if (access & kAccessMknod) a |= BPF_DEVCG_ACC_MKNOD;
  return a;
}

constexpr int32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

// One rule's block (at most 7 instructions); the jumps go to its end, the next block's start.
// A fixed array rather than push_back: GCC 12 misreads vector growth of the bit-field struct
// (-Wstringop-overflow).
struct Block {
  struct bpf_insn insns[8];
  size_t size = 0;
  void add(const struct bpf_insn& i) { insns[size++] = i; }
};

Block rule_block(const DeviceRule& r) {
  Block b;
  size_t jumps[4];
  size_t njumps = 0;
  if (r.type != 'a') {
    jumps[njumps++] = b.size;
    b.add(jmp_imm(BPF_JNE, BPF_REG_2, r.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0));
  }
  int32_t acc = acc_bits(r.access);
  if (acc != kAllAccess) {
    b.add(mov_reg(BPF_REG_1, BPF_REG_3));
    b.add(alu_imm(BPF_AND, BPF_REG_1, r.allow ? (~acc & kAllAccess) : acc));
    jumps[njumps++] = b.size;
    b.add(jmp_imm(r.allow ? BPF_JNE : BPF_JEQ, BPF_REG_1, 0, 0));
  }
  if (r.major >= 0) {
    jumps[njumps++] = b.size;
    b.add(jmp_imm(BPF_JNE, BPF_REG_4, static_cast<int32_t>(r.major), 0));
  }
  if (r.minor >= 0) {
    jumps[njumps++] = b.size;
    b.add(jmp_imm(BPF_JNE, BPF_REG_5, static_cast<int32_t>(r.minor), 0));
  }
  b.add(alu_imm(BPF_MOV, BPF_REG_0, r.allow ? 1 : 0));
  b.add(exit_insn());
  for (size_t i = 0; i < njumps; ++i) b.insns[jumps[i]].off = static_cast<int16_t>(b.size - jumps[i] - 1);
  return b;
}

long bpf(int cmd, union bpf_attr* attr) { return ::syscall(__NR_bpf, cmd, attr, sizeof *attr); }

// One BPF_PROG_LOAD; with a log buffer the verifier also explains a refusal there.
int load_program(const std::vector<struct bpf_insn>& insns, std::vector<char>* log) {
  static char license[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = reinterpret_cast<uint64_t>(license);
  if (log) {
    attr.log_buf = reinterpret_cast<uint64_t>(log->data());
    attr.log_size = static_cast<uint32_t>(log->size());
    attr.log_level = 1;
  }
  return static_cast<int>(bpf(BPF_PROG_LOAD, &attr));
}

}  // namespace

std::vector<struct bpf_insn> build_device_program(const std::vector<DeviceRule>& rules) {
  const struct bpf_insn prologue[] = {
      load_u32(BPF_REG_2, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
      alu_imm(BPF_AND, BPF_REG_2, 0xffff),
      load_u32(BPF_REG_3, offsetof(struct bpf_cgroup_dev_ctx, access_type)),
      alu_imm(BPF_RSH, BPF_REG_3, 16),
      load_u32(BPF_REG_4, offsetof(struct bpf_cgroup_dev_ctx, major)),
      load_u32(BPF_REG_5, offsetof(struct bpf_cgroup_dev_ctx, minor)),
  };
  std::vector<struct bpf_insn> p;
  p.reserve(8 + 8 * rules.size());
  p.insert(p.end(), std::begin(prologue), std::end(prologue));
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    Block b = rule_block(*it);
    p.insert(p.end(), b.insns, b.insns + b.size);
    // A rule matching every device decides alone: nothing before it can be reached.
    if (it->type == 'a' && acc_bits(it->access) == kAllAccess) return p;
  }
  const struct bpf_insn deny[] = {alu_imm(BPF_MOV, BPF_REG_0, 0), exit_insn()};
  p.insert(p.end(), std::begin(deny), std::end(deny));
  return p;
}

// Loaded without the verifier's log: having the kernel format it (the state at each branch)
// cost more than the verification itself under TCG. Only a refused program is loaded again,
// with the log, for the error message (as libbpf does).
Result<UniqueFd> load_device_program(const std::vector<struct bpf_insn>& insns) {
  int fd = load_program(insns, nullptr);
  if (fd < 0) {
    int err = errno;
    std::vector<char> log(64 * 1024);
    fd = load_program(insns, &log);
    if (fd < 0) {
      std::string text(log.data());
      while (!text.empty() && text.back() == '\n') text.pop_back();
      return Error::from_errno(err, "load device program (" + std::to_string(insns.size()) + " instructions)" +
                                        (text.empty() ? "" : ": verifier: " + text));
    }
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return UniqueFd(fd);
}

Result<void> attach_device_program(const std::string& dir, int prog, int replaced) {
  UniqueFd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return Error::from_errno(errno, "open cgroup `" + dir + "`");
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(cg.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog);
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &attr) < 0) return Error::from_errno(errno, "attach device program to `" + dir + "`");
  if (replaced >= 0) {
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(cg.get());
    attr.attach_bpf_fd = static_cast<uint32_t>(replaced);
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
      return Error::from_errno(errno, "detach the previous device program from `" + dir + "`");
  }
  return {};
}

}  // namespace cove::cgroup
