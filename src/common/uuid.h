// Random (version 4) UUIDs, for Delta table ids and data file names. Thread-safe.
#pragma once
#include <string>

namespace lakepipe {
// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower case.
std::string NewUuid();
}  // namespace lakepipe
