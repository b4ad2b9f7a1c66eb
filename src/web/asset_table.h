// The table of embedded files behind FindAsset, defined by the source file that
// cmake/EmbedAssets.cmake generates into the build folder. Internal to lp_web.
//
// Thread-safety: immutable after the first call (a function-local static).
#pragma once

#include <span>

#include "web/assets.h"

namespace lakepipe::web {

std::span<const Asset> AllAssets();

}  // namespace lakepipe::web
