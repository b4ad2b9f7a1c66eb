#include "delta/checkpoint_deferral.h"

#include <utility>

namespace lakepipe::delta {
namespace {

thread_local const CheckpointSink* current_sink = nullptr;

}  // namespace

ScopedCheckpointDeferral::ScopedCheckpointDeferral(CheckpointSink sink)
    : sink_(std::move(sink)), previous_(current_sink) {
  current_sink = &sink_;
}

ScopedCheckpointDeferral::~ScopedCheckpointDeferral() { current_sink = previous_; }

const CheckpointSink* ScopedCheckpointDeferral::Current() { return current_sink; }

}  // namespace lakepipe::delta
