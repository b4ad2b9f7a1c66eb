// String kernels: each loops over the rows once, appending results into one buffer.
#include <cctype>
#include <cstring>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "expr/kernel_state.h"

#include <openssl/evp.h>

namespace lakepipe::expr {
namespace {

inline size_t Utf8Len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

int64_t NumChars(std::string_view s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); i += Utf8Len(static_cast<unsigned char>(s[i]))) ++n;
  return n;
}

// Byte offset of character `k` (clamped to the end).
size_t ByteOffsetOfChar(std::string_view s, int64_t k) {
  size_t i = 0;
  for (int64_t c = 0; c < k && i < s.size(); ++c) i += Utf8Len(static_cast<unsigned char>(s[i]));
  return std::min(i, s.size());
}

// Upper/lower case of UTF-8 text: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
// (the scripts of the seeds' data); other characters are kept as they are.
uint32_t MapCodepoint(uint32_t c, bool up) {
  if (c < 0x80) return up ? static_cast<uint32_t>(std::toupper(static_cast<int>(c))) : static_cast<uint32_t>(std::tolower(static_cast<int>(c)));
  if (up) {
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
      bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
      if (odd_lower ? (c % 2 == 0) : (c % 2 == 1)) return c - 1;
      return c;
    }
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 0x20;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  } else {
    if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
      bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
      if (odd_lower ? (c % 2 == 1) : (c % 2 == 0)) return c + 1;
      return c;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  }
  return c;
}

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

void CaseMap(std::string_view s, bool up, std::string* out) {
  bool ascii = true;
  for (char c : s) ascii &= static_cast<unsigned char>(c) < 0x80;
  if (ascii) {
    out->resize(s.size());
    char* o = out->data();
    if (up) {
      for (size_t k = 0; k < s.size(); ++k) o[k] = (s[k] >= 'a' && s[k] <= 'z') ? static_cast<char>(s[k] - 32) : s[k];
    } else {
      for (size_t k = 0; k < s.size(); ++k) o[k] = (s[k] >= 'A' && s[k] <= 'Z') ? static_cast<char>(s[k] + 32) : s[k];
    }
    return;
  }
  out->reserve(s.size());
  for (size_t k = 0; k < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[k]);
    if (b < 0x80) {
      out->push_back(static_cast<char>(up ? std::toupper(b) : std::tolower(b)));
      ++k;
      continue;
    }
    size_t len = Utf8Len(b);
    if (len == 2 && k + 1 < s.size()) {
      uint32_t c = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[k + 1]) & 0x3Fu);
      AppendUtf8(MapCodepoint(c, up), out);
    } else {
      out->append(s.substr(k, len));
    }
    k += len;
  }
}

// Runs `f(i, &scratch) -> bool(valid)` per row, NULL when any argument is NULL. The values
// are gathered back to back in one buffer and enter the column in one AppendStrings, with
// the bitmap installed once at the end: appending them one by one paid a vector insert,
// an offset push and a validity bit per row.
template <typename F>
Result<ColumnPtr> StringResult(const std::vector<ColumnPtr>& args, int64_t n, F f) {
  Column out(DataType::String());
  ValidityBuilder valid(n);
  for (const auto& a : args) {
    if (a->type().id() == TypeId::kNull) {
      for (int64_t i = 0; i < n; ++i) valid.SetNull(i);
    } else {
      valid.AndWith(*a);
    }
  }
  std::string bytes;
  if (!args.empty() && args[0]->type().is_binary_like()) bytes.reserve(args[0]->raw_data().size());
  std::vector<size_t> ends(static_cast<size_t>(n));
  std::string scratch;
  for (int64_t i = 0; i < n; ++i) {
    if (valid.IsValid(i)) {
      scratch.clear();
      auto st = f(i, &scratch);
      if (!st.ok()) return st.status();
      if (*st) {
        bytes += scratch;
      } else {
        valid.SetNull(i);
      }
    }
    ends[static_cast<size_t>(i)] = bytes.size();  // a NULL row: an empty range
  }
  std::vector<std::string_view> values(static_cast<size_t>(n));
  size_t start = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = std::string_view(bytes.data() + start, ends[i] - start);
    start = ends[i];
  }
  out.AppendStrings(values.data(), n);
  if (!valid.all_valid()) out.SetValidity(valid.Take());
  return MakeColumn(std::move(out));
}

std::string_view Str(const std::vector<ColumnPtr>& args, size_t a, int64_t i) { return args[a]->GetString(i); }

std::string_view TrimChars(std::string_view s, std::string_view chars, bool left, bool right) {
  auto in_set = [&](char c) { return chars.find(c) != std::string_view::npos; };
  size_t b = 0, e = s.size();
  if (left) while (b < e && in_set(s[b])) ++b;
  if (right) while (e > b && in_set(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Per-row pattern for a non-constant pattern argument: compiled again only when it changes.
struct PatternCache {
  std::string last;
  std::shared_ptr<const KernelState> state;
  Result<const KernelState*> Get(PatternKind kind, std::string_view pattern, char escape) {
    if (!state || pattern != last) {
      auto s = CompilePattern(kind, std::string(pattern), escape);
      if (!s.ok()) return s.status();
      state = *s;
      last = std::string(pattern);
    }
    return state.get();
  }
};

template <PatternKind kind>
Result<ColumnPtr> Like(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  PatternCache cache;
  char escape = '\\';
  if (args.size() == 3 && args[2]->size() > 0 && args[2]->IsValid(0)) {
    std::string_view esc = args[2]->GetString(0);
    if (esc.size() == 1) escape = esc[0];
  }
  Status error;
  auto r = FixedResult<uint8_t>(DataType::Boolean(), {args[0], args[1]}, n, [&](int64_t i, uint8_t* out) {
    const KernelState* state = e.state.get();
    if constexpr (kind == PatternKind::kLike) {
      if (!state) {
        auto m = LikeMatchesUncompiled(Str(args, 0, i), Str(args, 1, i), escape);
        if (!m.ok() && error.ok()) error = EvalError(e, m.status().message());
        *out = m.ok() && *m ? 1 : 0;
        return true;
      }
    }
    if (!state) {
      auto s = cache.Get(kind, Str(args, 1, i), escape);
      if (!s.ok()) {
        if (error.ok()) error = EvalError(e, s.status().message());
        *out = 0;
        return true;
      }
      state = *s;
    }
    std::string_view s = Str(args, 0, i);
    if constexpr (kind == PatternKind::kRegex) {
      const auto& re = static_cast<const RegexPattern*>(state)->regex;
      *out = std::regex_search(s.begin(), s.end(), re) ? 1 : 0;
    } else {
      *out = static_cast<const LikePattern*>(state)->Matches(s) ? 1 : 0;
    }
    return true;
  });
  if (!error.ok()) return error;
  return r;
}

Result<ColumnPtr> RegexpReplace(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  PatternCache cache;
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    const KernelState* state = e.state.get();
    if (!state) {
      auto s = cache.Get(PatternKind::kRegex, Str(args, 1, i), '\\');
      if (!s.ok()) return EvalError(e, s.status().message());
      state = *s;
    }
    const auto& re = static_cast<const RegexPattern*>(state)->regex;
    std::string_view s = Str(args, 0, i);
    std::string_view rep = Str(args, 2, i);
    std::regex_replace(std::back_inserter(*out), s.begin(), s.end(), re, std::string(rep));
    return true;
  });
}

Result<ColumnPtr> Substring(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view s = Str(args, 0, i);
    int64_t pos = args[1]->data<int32_t>()[i];
    int64_t length = args.size() > 2 ? args[2]->data<int32_t>()[i] : INT32_MAX;
    int64_t len = NumChars(s);
    int64_t start = pos > 0 ? pos - 1 : (pos < 0 ? len + pos : 0);
    int64_t end = start + length;
    start = std::max<int64_t>(start, 0);
    if (start >= end) return true;
    end = std::min(end, len);
    if (start >= end) return true;
    size_t b = ByteOffsetOfChar(s, start);
    size_t e2 = b + ByteOffsetOfChar(s.substr(b), end - start);
    out->append(s.substr(b, e2 - b));
    return true;
  });
}

Result<ColumnPtr> SplitPart(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view s = Str(args, 0, i);
    std::string_view delim = Str(args, 1, i);
    int64_t part = args[2]->data<int32_t>()[i];
    if (part == 0) return EvalError(e, "[INVALID_INDEX_OF_ZERO] split_part's part number must not be 0");
    std::vector<std::string_view> parts;
    if (delim.empty()) {
      parts.push_back(s);
    } else {
      size_t start = 0;
      while (true) {
        size_t at = s.find(delim, start);
        if (at == std::string_view::npos) { parts.push_back(s.substr(start)); break; }
        parts.push_back(s.substr(start, at - start));
        start = at + delim.size();
      }
    }
    int64_t count = static_cast<int64_t>(parts.size());
    int64_t index = part > 0 ? part - 1 : count + part;
    if (index >= 0 && index < count) out->append(parts[static_cast<size_t>(index)]);
    return true;
  });
}

template <bool left>
Result<ColumnPtr> Pad(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view s = Str(args, 0, i);
    int64_t target = args[1]->data<int32_t>()[i];
    std::string_view pad = args.size() > 2 ? Str(args, 2, i) : std::string_view(" ");
    if (target <= 0) return true;
    // Spark caps a string at 2 GB; refuse absurd targets before allocating.
    if (target > (1LL << 28)) return EvalError(e, "[INVALID_PARAMETER_VALUE] pad length " + std::to_string(target) + " is too large");
    int64_t len = NumChars(s);
    if (target <= len) {
      out->append(s.substr(0, ByteOffsetOfChar(s, target)));
      return true;
    }
    if (pad.empty()) {
      out->append(s);
      return true;
    }
    int64_t need = target - len;
    std::string fill;
    int64_t pad_chars = NumChars(pad);
    while (need > 0) {
      int64_t take = std::min(need, pad_chars);
      fill.append(pad.substr(0, ByteOffsetOfChar(pad, take)));
      need -= take;
    }
    if (left) { out->append(fill); out->append(s); } else { out->append(s); out->append(fill); }
    return true;
  });
}

template <bool up>
Result<ColumnPtr> CaseMapKernel(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    CaseMap(Str(args, 0, i), up, out);
    return true;
  });
}

template <bool l, bool r>
Result<ColumnPtr> Trim(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view chars = args.size() > 1 ? Str(args, 1, i) : std::string_view(" ");
    out->append(TrimChars(Str(args, 0, i), chars, l, r));
    return true;
  });
}

// `a || b || ...`: the pieces of each row are copied straight into one buffer sized in a
// first pass (no scratch string per row as in StringResult), then enter the column in one
// AppendStrings. NULL when any argument is.
Result<ColumnPtr> Concat(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  ValidityBuilder valid(n);
  valid.AndWithAll(args);
  size_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!valid.IsValid(i)) continue;
    for (const auto& a : args) total += a->GetString(i).size();
  }
  std::string bytes(total, '\0');
  char* const base = bytes.data();
  char* dst = base;
  std::vector<std::string_view> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    char* row = dst;
    if (valid.IsValid(i)) {
      for (const auto& a : args) {
        std::string_view piece = a->GetString(i);
        if (!piece.empty()) std::memcpy(dst, piece.data(), piece.size());
        dst += piece.size();
      }
    }
    values[static_cast<size_t>(i)] = std::string_view(row, static_cast<size_t>(dst - row));  // NULL: empty
  }
  Column out(DataType::String());
  out.AppendStrings(values.data(), n);
  if (!valid.all_valid()) out.SetValidity(valid.Take());
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> ConcatWs(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  Column out(DataType::String());
  out.Reserve(n);
  std::string scratch;
  for (int64_t i = 0; i < n; ++i) {
    if (args[0]->type().id() == TypeId::kNull || args[0]->IsNull(i)) { out.AppendNull(); continue; }
    scratch.clear();
    bool first = true;
    for (size_t a = 1; a < args.size(); ++a) {
      if (args[a]->type().id() == TypeId::kNull || args[a]->IsNull(i)) continue;
      if (!first) scratch.append(Str(args, 0, i));
      scratch.append(Str(args, a, i));
      first = false;
    }
    out.AppendString(scratch);
  }
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> Length(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return FixedResult<int32_t>(DataType::Int(), args, n, [&](int64_t i, int32_t* out) {
    *out = static_cast<int32_t>(NumChars(Str(args, 0, i)));
    return true;
  });
}

Result<ColumnPtr> Replace(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  return StringResult(args, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view s = Str(args, 0, i), search = Str(args, 1, i);
    std::string_view rep = args.size() > 2 ? Str(args, 2, i) : std::string_view();
    if (search.empty()) { out->append(s); return true; }
    size_t start = 0;
    while (true) {
      size_t at = s.find(search, start);
      if (at == std::string_view::npos) { out->append(s.substr(start)); break; }
      out->append(s.substr(start, at - start));
      out->append(rep);
      start = at + search.size();
    }
    return true;
  });
}

// The digest for md5/sha1, or for sha2 its bit length (a constant); nullptr for a length
// Spark does not know (the result is then NULL).
enum class Digest { kMd5, kSha1, kSha2 };

template <Digest digest>
Result<ColumnPtr> Hash(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const EVP_MD* md = nullptr;
  if constexpr (digest == Digest::kMd5) {
    md = EVP_md5();
  } else if constexpr (digest == Digest::kSha1) {
    md = EVP_sha1();
  } else {
    int64_t bits = e.args[1].literal.is_null() ? -1 : e.args[1].literal.int_value();
    // Spark: 0 means 256; an unsupported length gives NULL.
    if (bits == 0 || bits == 256) md = EVP_sha256();
    else if (bits == 224) md = EVP_sha224();
    else if (bits == 384) md = EVP_sha384();
    else if (bits == 512) md = EVP_sha512();
    if (!md) return MakeColumn(Column::Nulls(DataType::String(), n));
  }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  static const char* kHex = "0123456789abcdef";
  return StringResult({args[0]}, n, [&](int64_t i, std::string* out) -> Result<bool> {
    std::string_view s = args[0]->GetString(i);
    unsigned char bytes[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 || EVP_DigestUpdate(ctx.get(), s.data(), s.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), bytes, &len) != 1) {
      return Status::Internal("OpenSSL digest failed in `" + e.text + "`");
    }
    out->resize(len * 2);
    for (unsigned int k = 0; k < len; ++k) {
      (*out)[2 * k] = kHex[bytes[k] >> 4];
      (*out)[2 * k + 1] = kHex[bytes[k] & 15];
    }
    return true;
  });
}

// ---- binding -----------------------------------------------------------------------------

Status BindAllStrings(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::String()));
  c.SetResult(DataType::String());
  return Status::OK();
}

Status BindConcatWs(CallBinder& c) {
  LP_RETURN_IF_ERROR(BindAllStrings(c));
  c.bound().nullable = c.arg(0).nullable;
  return Status::OK();
}

Status BindLength(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  c.SetResult(DataType::Int());
  return Status::OK();
}

Status BindSubstring(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectAll(1, DataType::Int()));
  c.SetResult(DataType::String());
  return Status::OK();
}

Status BindSplitPart(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectType(2, DataType::Int()));
  c.SetResult(DataType::String());
  return Status::OK();
}

Status BindPad(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Int()));
  if (c.num_args() == 3) LP_RETURN_IF_ERROR(c.ExpectType(2, DataType::String()));
  c.SetResult(DataType::String());
  return Status::OK();
}

// Compiles a constant pattern (argument 2) once, at bind time.
Status PreparePattern(CallBinder& c, PatternKind kind) {
  BoundExpr& b = c.bound();
  if (b.args[1].kind != BoundKind::kLiteral || b.args[1].literal.is_null()) return Status::OK();
  std::string escape = "\\";
  if (kind != PatternKind::kRegex && b.args.size() == 3) {
    LP_RETURN_IF_ERROR(c.ExpectLiteral(2));
    escape = b.args[2].literal.is_null() ? "" : b.args[2].literal.string_value();
    if (escape.size() != 1) return c.Error("the LIKE escape must be one character in `" + c.expr().ToString() + "`");
  }
  auto state = CompilePattern(kind, b.args[1].literal.string_value(), escape[0]);
  if (!state.ok()) return c.Error(state.status().message() + " in `" + c.expr().ToString() + "`");
  b.state = *state;
  return Status::OK();
}

template <PatternKind kind>
Status BindLike(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectAll(0, DataType::String()));
  c.SetResult(DataType::Boolean());
  return PreparePattern(c, kind);
}

Status BindRegexpReplace(CallBinder& c) {
  LP_RETURN_IF_ERROR(BindAllStrings(c));
  return PreparePattern(c, PatternKind::kRegex);
}

template <Digest digest>
Status BindHash(CallBinder& c) {
  if (c.arg_type(0).id() != TypeId::kBinary) LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  if constexpr (digest == Digest::kSha2) {
    LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Int()));
    LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
    c.bound().nullable = true;
  }
  c.SetResult(DataType::String());
  return Status::OK();
}

constexpr bool kSafe = false;  // may_error: the kernel never raises an ANSI error

}  // namespace

void RegisterStringFunctions(FunctionRegistry* r) {
  r->Add({"upper", 1, 1, BindAllStrings, CaseMapKernel<true>, nullptr, kSafe});
  r->Add({"lower", 1, 1, BindAllStrings, CaseMapKernel<false>, nullptr, kSafe});
  r->AddAlias("ucase", "upper");
  r->AddAlias("lcase", "lower");
  r->Add({"trim", 1, 2, BindAllStrings, Trim<true, true>, nullptr, kSafe});
  r->Add({"ltrim", 1, 2, BindAllStrings, Trim<true, false>, nullptr, kSafe});
  r->Add({"rtrim", 1, 2, BindAllStrings, Trim<false, true>, nullptr, kSafe});
  r->Add({"concat", 1, -1, BindAllStrings, Concat, nullptr, kSafe});
  r->AddAlias("||", "concat");
  r->Add({"concat_ws", 1, -1, BindConcatWs, ConcatWs, nullptr, kSafe});
  r->Add({"length", 1, 1, BindLength, Length, nullptr, kSafe});
  r->AddAlias("char_length", "length");
  r->AddAlias("character_length", "length");
  r->AddAlias("len", "length");
  r->Add({"substring", 2, 3, BindSubstring, Substring, nullptr, kSafe});
  r->AddAlias("substr", "substring");
  r->Add({"replace", 2, 3, BindAllStrings, Replace, nullptr, kSafe});
  r->Add({"regexp_replace", 3, 3, BindRegexpReplace, RegexpReplace, nullptr, kSafe});
  r->Add({"split_part", 3, 3, BindSplitPart, SplitPart});
  r->Add({"lpad", 2, 3, BindPad, Pad<true>, nullptr, kSafe});
  r->Add({"rpad", 2, 3, BindPad, Pad<false>, nullptr, kSafe});
  r->Add({"like", 2, 3, BindLike<PatternKind::kLike>, Like<PatternKind::kLike>, nullptr, kSafe});
  r->Add({"ilike", 2, 3, BindLike<PatternKind::kILike>, Like<PatternKind::kILike>, nullptr, kSafe});
  r->Add({"rlike", 2, 2, BindLike<PatternKind::kRegex>, Like<PatternKind::kRegex>, nullptr, kSafe});
  r->AddAlias("regexp", "rlike");
  r->AddAlias("regexp_like", "rlike");
  r->Add({"md5", 1, 1, BindHash<Digest::kMd5>, Hash<Digest::kMd5>, nullptr, kSafe});
  r->Add({"sha1", 1, 1, BindHash<Digest::kSha1>, Hash<Digest::kSha1>, nullptr, kSafe});
  r->AddAlias("sha", "sha1");
  r->Add({"sha2", 2, 2, BindHash<Digest::kSha2>, Hash<Digest::kSha2>, nullptr, kSafe});
}

}  // namespace lakepipe::expr
