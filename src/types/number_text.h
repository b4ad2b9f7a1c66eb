// The text of floating-point numbers as Spark prints them: the shortest digits that read
// back to the same value, ".0" on whole numbers, "NaN", "Infinity", "-Infinity".
// Shared by Value::ToString and the CSV and JSON writers. Pure; thread-safe.
#pragma once

#include <string>

namespace lakepipe {

// Appends `d` (as a float when is_float, so that 0.1f prints "0.1").
void AppendDoubleText(double d, bool is_float, std::string* out);

}  // namespace lakepipe
