// ZstdWriter: compresses a byte stream into a zstd stream on a file descriptor, in parallel.
// The input is cut into chunks, each compressed as an independent frame by a
// pool of worker threads and written in order: a multi-frame stream any zstd decoder reads.
// Done here rather than by libzstd's own workers (ZSTD_c_nbWorkers): Debian's static libzstd.a,
// which the -all-static tools link, is built without multithreading.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"

namespace cove::images {

class ZstdWriter {
 public:
  // `threads` 0: one per CPU this process may run on.
  ZstdWriter(int out_fd, int level, unsigned threads);
  ~ZstdWriter();
  ZstdWriter(const ZstdWriter&) = delete;
  ZstdWriter& operator=(const ZstdWriter&) = delete;

  Result<void> write(const void* data, size_t size);
  // Compresses what is buffered, writes every frame and stops the workers.
  Result<void> finish();
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  struct Job;
  Result<void> submit();
  Result<void> write_front();
  void work();

  int fd_;
  int level_;
  size_t chunk_size_;
  size_t max_in_flight_;
  std::string buffer_;
  std::deque<std::shared_ptr<Job>> in_flight_;  // oldest first; written in this order
  std::deque<std::shared_ptr<Job>> pending_;    // not yet taken by a worker
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

}  // namespace cove::images
