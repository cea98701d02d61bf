#include "images/zstd_writer.hpp"

#include <unistd.h>
#include <zstd.h>

#include <cstring>

#include "base/proc_stat.hpp"

namespace cove::images {

namespace {
// Large enough for a good ratio per frame and little per-frame overhead; small enough that
// 2 x threads chunks in flight stay a few tens of MB.
constexpr size_t kChunkSize = 4 << 20;

Result<void> write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Error::from_errno(errno, "write");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}
}  // namespace

struct ZstdWriter::Job {
  std::string in;
  std::unique_ptr<char[]> out;  // not zero-filled: ZSTD_compressBound bytes each time cost ~5%
  size_t out_size = 0;
  std::string error;  // the zstd error name when compression failed
  bool done = false;
};

ZstdWriter::ZstdWriter(int out_fd, int level, unsigned threads) : fd_(out_fd), level_(level), chunk_size_(kChunkSize) {
  if (threads == 0) threads = proc::usable_cpus();
  max_in_flight_ = 2 * threads;
  buffer_.reserve(chunk_size_);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ZstdWriter::~ZstdWriter() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopping_ = true;
    pending_.clear();  // an abandoned stream: nothing more to compress
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ZstdWriter::work() {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> l(mu_);
      work_cv_.wait(l, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) break;
      job = pending_.front();
      pending_.pop_front();
    }
    size_t bound = ZSTD_compressBound(job->in.size());
    std::unique_ptr<char[]> out(new char[bound]);
    size_t n = 0;
    if (!cctx) {
      job->error = "out of memory";
    } else {
      // No frame checksum: the archive's content hash already covers every byte of the tree.
      ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level_);
      n = ZSTD_compress2(cctx, out.get(), bound, job->in.data(), job->in.size());
      if (ZSTD_isError(n)) job->error = ZSTD_getErrorName(n);
    }
    std::lock_guard<std::mutex> g(mu_);
    job->out = std::move(out);
    job->out_size = job->error.empty() ? n : 0;
    job->in = std::string();
    job->done = true;
    done_cv_.notify_all();
  }
  ZSTD_freeCCtx(cctx);
}

Result<void> ZstdWriter::write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  bytes_in_ += size;
  while (size > 0) {
    size_t take = std::min(size, chunk_size_ - buffer_.size());
    buffer_.append(p, take);
    p += take;
    size -= take;
    if (buffer_.size() == chunk_size_) COVE_TRY(submit());
  }
  return {};
}

Result<void> ZstdWriter::submit() {
  while (in_flight_.size() >= max_in_flight_) COVE_TRY(write_front());
  auto job = std::make_shared<Job>();
  job->in = std::move(buffer_);
  buffer_ = std::string();
  buffer_.reserve(chunk_size_);
  {
    std::lock_guard<std::mutex> g(mu_);
    pending_.push_back(job);
    in_flight_.push_back(job);
  }
  work_cv_.notify_one();
  return {};
}

// Waits for the oldest frame and writes it.
Result<void> ZstdWriter::write_front() {
  std::shared_ptr<Job> job;
  {
    std::unique_lock<std::mutex> l(mu_);
    job = in_flight_.front();
    done_cv_.wait(l, [&] { return job->done; });
    in_flight_.pop_front();
  }
  if (!job->error.empty()) return Error(EIO, "zstd compression: " + job->error);
  COVE_TRY(write_all(fd_, job->out.get(), job->out_size));
  bytes_out_ += job->out_size;
  return {};
}

Result<void> ZstdWriter::finish() {
  if (!buffer_.empty()) COVE_TRY(submit());
  while (!in_flight_.empty()) COVE_TRY(write_front());
  return {};
}

}  // namespace cove::images
