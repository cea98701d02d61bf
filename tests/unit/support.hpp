// Helpers for unit tests: Result assertions that print the whole error chain, and a TempDir.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    auto&& cove_r_ = (expr);                                               \
    ASSERT_TRUE(cove_r_.has_value()) << "error: " << cove_r_.error().message(); \
  } while (0)

#define EXPECT_OK(expr)                                                    \
  do {                                                                     \
    auto&& cove_r_ = (expr);                                               \
    EXPECT_TRUE(cove_r_.has_value()) << "error: " << cove_r_.error().message(); \
  } while (0)

#define EXPECT_ERROR_CONTAINS(expr, text)                                              \
  do {                                                                                 \
    auto&& cove_r_ = (expr);                                                           \
    ASSERT_FALSE(cove_r_.has_value()) << "expected an error containing: " << (text);   \
    EXPECT_NE(cove_r_.error().message().find(text), std::string::npos)                 \
        << "error was: " << cove_r_.error().message();                                 \
  } while (0)

namespace cove::test {

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/cove-unit.XXXXXX";
    path_ = ::mkdtemp(t) ? t : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace cove::test
