#include "runtime/background_priority.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lakepipe::runtime {

void LowerThisThreadsPriority() {
#if defined(__linux__)
  // On Linux a nice value belongs to a thread (its tid), not to the whole process.
  const id_t tid = static_cast<id_t>(::syscall(SYS_gettid));
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (current < kBackgroundNice) (void)::setpriority(PRIO_PROCESS, tid, kBackgroundNice);
#endif
}

}  // namespace lakepipe::runtime
