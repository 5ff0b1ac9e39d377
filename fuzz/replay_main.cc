// Standalone driver for libFuzzer targets when libFuzzer is not linked (gcc builds, CI): runs
// LLVMFuzzerTestOneInput once on every regular file named on the command line or found
// (recursively, in sorted order) under a directory named on the command line, then prints how
// many inputs ran. Arguments starting with '-' (libFuzzer flags) are ignored.
// Exit status: 0 when every input ran (a target signals a violated invariant by aborting),
// 1 when a path does not exist or no input was found at all (an empty corpus is a wiring bug).
// Single-threaded; no global mutable state beyond the target's own.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool ReadWholeFile(const std::filesystem::path& p, std::string* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  bool missing = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    std::error_code ec;
    fs::path p(arg);
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(p, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", arg.c_str());
      missing = true;
    }
  }
  size_t ran = 0;
  for (const fs::path& p : inputs) {
    std::string bytes;
    if (!ReadWholeFile(p, &bytes)) {
      std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
      missing = true;
      continue;
    }
    // Copy into an exactly-sized heap buffer so ASan catches reads past the end, like libFuzzer.
    std::vector<uint8_t> buf(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
    ++ran;
  }
  std::printf("replay: ran %zu inputs\n", ran);
  if (missing) return 1;
  if (ran == 0) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  return 0;
}
