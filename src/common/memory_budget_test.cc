#include "common/memory_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lakepipe {
namespace {

TEST(MemoryBudgetTest, HoldersShareOneCapacity) {
  MemoryBudget budget(100);
  int64_t a = 0, b = 0;
  EXPECT_TRUE(budget.TryResize(&a, 60));
  EXPECT_FALSE(budget.TryResize(&b, 41));  // 60 + 41 > 100
  EXPECT_EQ(b, 0);
  EXPECT_TRUE(budget.TryResize(&b, 40));
  EXPECT_EQ(budget.used(), 100);
  EXPECT_FALSE(budget.TryResize(&a, 61));
  EXPECT_EQ(a, 60);  // unchanged when refused
  EXPECT_TRUE(budget.TryResize(&a, 10));  // shrinking always succeeds
  EXPECT_EQ(budget.used(), 50);
  EXPECT_TRUE(budget.TryResize(&b, 90));  // what `a` gave back is usable by `b`
  budget.Release(&a);
  budget.Release(&b);
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(budget.used(), 0);
}

TEST(MemoryBudgetTest, ConcurrentHoldersNeverPassTheCapacity) {
  constexpr int64_t kCapacity = 1000;
  MemoryBudget budget(kCapacity);
  std::atomic<int64_t> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&budget, &over, t] {
      int64_t held = 0;
      for (int i = 0; i < 20000; ++i) {
        budget.TryResize(&held, (i * 7 + t * 13) % 400);
        if (budget.used() > kCapacity) over.fetch_add(1);
      }
      budget.Release(&held);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(budget.used(), 0);
}

}  // namespace
}  // namespace lakepipe
