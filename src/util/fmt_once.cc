// fmt's out-of-line functions, compiled once for the whole project.
//
// With FMT_HEADER_ONLY every file that includes <fmt/format.h> compiled all of
// fmt's implementation again (about five seconds per file). Debian ships fmt
// only as a shared library, and the strata binary links libstdc++ statically
// (quicker start), so linking libfmt.so would bring a second libstdc++ in.
// Instead this one file compiles fmt's implementation header into libstrata.
#include <fmt/format-inl.h>

namespace fmt::detail {
// format.h declares these "extern template" when not header-only.
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template auto thousands_sep_impl<wchar_t>(locale_ref) -> thousands_sep_result<wchar_t>;
template auto decimal_point_impl(locale_ref) -> char;
template auto decimal_point_impl(locale_ref) -> wchar_t;
}  // namespace fmt::detail
