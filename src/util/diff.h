// A line diff, for showing what changed in an applied migration's file.
#pragma once

#include <string>
#include <string_view>

namespace strata {

/// Lines of `before` and `after` compared, printed as "-removed" / "+added"
/// with up to `context` unchanged lines around each change (" line"), and
/// "@@ line N @@" headers giving the line in `after`. Empty when equal.
std::string LineDiff(std::string_view before, std::string_view after, int context = 2);

}  // namespace strata
