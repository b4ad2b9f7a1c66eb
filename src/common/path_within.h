// PathIsWithin: whether one path lies under another, compared as written (a string
// function beside fs.h's path helpers, in its own header so that its users alone depend
// on it). Pure; thread-safe.
#pragma once

#include <string_view>

namespace lakepipe {

// Whether `path` is `folder` or lies under it, by components as written (empty and "."
// components ignored; ".." and links not resolved, so callers that need them resolved
// compare FileSystem::RealPath results).
bool PathIsWithin(std::string_view path, std::string_view folder);

}  // namespace lakepipe
