// main() for a libFuzzer target built without libFuzzer: runs LLVMFuzzerTestOneInput once
// per file of the corpus folders given as arguments (recursively, in name order), so that
// `make test` replays every kept input of every fuzz target as a regression test
// (docs/fuzzing.md). A crash, an abort or an escaping exception fails the test and names
// the input; an empty or missing corpus fails too, so a replay that checked nothing cannot
// pass.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

// The input being run, for the signal handler (a fixed buffer: only async-signal-safe
// calls there).
char current_input[4096];

void OnFatalSignal(int sig) {
  const char prefix[] = "\nfuzz replay: fatal signal while running input ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
  ignored = write(STDERR_FILENO, current_input, strnlen(current_input, sizeof(current_input)));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, OnFatalSignal);

  namespace fs = std::filesystem;
  int64_t total = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<fs::path> inputs;
    std::error_code ec;
    if (fs::is_regular_file(argv[i], ec)) {
      inputs.emplace_back(argv[i]);
    } else if (fs::is_directory(argv[i], ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(argv[i], ec))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    }
    if (inputs.empty()) {
      std::fprintf(stderr, "fuzz replay: no corpus input in %s (a fuzz target needs a corpus in tests/fuzz/corpus/)\n",
                   argv[i]);
      return 1;
    }
    std::sort(inputs.begin(), inputs.end());
    for (const auto& path : inputs) {
      std::snprintf(current_input, sizeof(current_input), "%s", path.c_str());
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz replay: input %s: uncaught exception: %s\n", path.c_str(), e.what());
        return 1;
      } catch (...) {
        std::fprintf(stderr, "fuzz replay: input %s: uncaught exception\n", path.c_str());
        return 1;
      }
      ++total;
    }
    std::printf("fuzz replay: %zu inputs of %s passed\n", inputs.size(), argv[i]);
  }
  std::printf("fuzz replay: %lld inputs in all\n", static_cast<long long>(total));
  return 0;
}
