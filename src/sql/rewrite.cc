#include "sql/rewrite.h"

#include <pg_query.h>

#include <cmath>
#include <mutex>
#include <unordered_map>

#include "sql/lexer.h"
#include "types/interval.h"

namespace lakepipe::sql {

namespace {

// Reads one protobuf varint; false at a truncated buffer.
bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

// The keyword kind (0 = not a keyword) of the first token of pg_query_scan's protobuf
// answer (pg_query.proto: ScanResult{1: version, 2: repeated ScanToken{1: start, 2: end,
// 4: token, 5: keyword_kind}}).
int FirstTokenKeywordKind(const PgQueryProtobuf& pbuf) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(pbuf.data);
  const uint8_t* end = p + pbuf.len;
  while (p < end) {
    uint64_t key;
    if (!ReadVarint(p, end, &key)) return 0;
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    uint64_t v;
    if (wire == 0) {
      if (!ReadVarint(p, end, &v)) return 0;
      continue;
    }
    if (wire != 2 || !ReadVarint(p, end, &v) || v > static_cast<uint64_t>(end - p)) return 0;
    if (field != 2) {
      p += v;
      continue;
    }
    const uint8_t* q = p;
    const uint8_t* qend = p + v;
    int kind = 0;
    while (q < qend) {
      uint64_t k2, v2;
      if (!ReadVarint(q, qend, &k2) || (k2 & 7) != 0 || !ReadVarint(q, qend, &v2)) return 0;
      if ((k2 >> 3) == 5) kind = static_cast<int>(v2);
    }
    return kind;
  }
  return 0;
}

}  // namespace

bool IsPostgresKeyword(const std::string& word) {
  static std::mutex mu;
  static std::unordered_map<std::string, bool> cache;
  std::string lower = ToLower(word);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(lower);
    if (it != cache.end()) return it->second;
  }
  PgQueryScanResult r = pg_query_scan(lower.c_str());
  bool keyword = r.error == nullptr && FirstTokenKeywordKind(r.pbuf) != 0;
  pg_query_free_scan_result(r);
  std::lock_guard<std::mutex> lock(mu);
  cache[lower] = keyword;
  return keyword;
}

namespace {

std::string QuoteIdent(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string QuoteString(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

bool IsClauseEnd(const Token& t) {
  static const char* kEnds[] = {"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "UNION",
                                "INTERSECT", "WINDOW", "OFFSET", "QUALIFY"};
  for (const char* k : kEnds) {
    if (t.IsWord(k)) return true;
  }
  return false;
}

class Rewriter {
 public:
  Rewriter(const MappedText& in, const std::vector<Token>& toks) : in_(in), toks_(toks) {
    out_.text.set_file(in.file());
    levels_.push_back(Level{true});
  }

  Result<RewrittenSql> Run() {
    emitted_at_.assign(toks_.size(), 0);
    while (i_ < toks_.size()) {
      LP_RETURN_IF_ERROR(Step());
    }
    out_.text.AppendMapped(in_, gap_from_, in_.text().size());
    if (levels_.back().qualify_open) CloseQualify(levels_.back());
    return std::move(out_);
  }

 private:
  struct Level {
    bool query = false;
    bool in_from = false;
    bool cast = false;
    bool window_seen = false;   // a WINDOW clause (or QUALIFY) was emitted at this level
    bool qualify_open = false;  // inside QUALIFY's condition: `)` still to close
  };

  // QUALIFY cond -> WINDOW "$qualify" AS (ORDER BY cond): PostgreSQL has no QUALIFY, and a
  // window definition is the one clause at that place that holds any expression. The
  // planner takes the condition back out (select.cc). A later WINDOW becomes ",".
  static bool EndsQualify(const Token& t) {
    static const char* kEnds[] = {"WINDOW", "ORDER", "LIMIT", "UNION", "INTERSECT", "EXCEPT", "OFFSET"};
    for (const char* k : kEnds) {
      if (t.IsWord(k)) return true;
    }
    return false;
  }
  void CloseQualify(Level& level) {
    out_.text.AppendSynthetic(")", in_.OriginOf(gap_from_ > 0 ? gap_from_ - 1 : 0));
    level.qualify_open = false;
  }

  const Token& Peek(size_t k) const {
    static const Token kNone{TokenKind::kSymbol, 0, 0, "", ""};
    return i_ + k < toks_.size() ? toks_[i_ + k] : kNone;
  }
  SourceLocation Loc(const Token& t) const { return in_.Locate(t.begin); }
  size_t OutOffset() const { return out_.text.text().size(); }

  // Copies the whitespace/comments before `t`, then records FROM-item bookkeeping.
  void BeginEmit(const Token& t) {
    out_.text.AppendMapped(in_, gap_from_, t.begin);
    gap_from_ = t.end;
    emitted_at_[i_] = OutOffset();
    if (item_start_pending_) {
      last_item_start_ = OutOffset();
      item_start_pending_ = false;
    }
    if (stream_pending_) {
      out_.streaming_refs.insert(OutOffset());
      stream_pending_ = false;
    }
  }
  void Drop(const Token& t) {
    out_.text.AppendMapped(in_, gap_from_, t.begin);
    gap_from_ = t.end;
    emitted_at_[i_] = OutOffset();
  }
  void EmitVerbatim() {
    const Token& t = toks_[i_];
    BeginEmit(t);
    out_.text.AppendMapped(in_, t.begin, t.end);
    ++i_;
  }
  void EmitSynthetic(const std::string& s) {
    const Token& t = toks_[i_];
    BeginEmit(t);
    out_.text.AppendSynthetic(s, in_.OriginOf(t.begin));
    ++i_;
  }
  void EmitQuotedWord() {
    const Token& t = toks_[i_];
    BeginEmit(t);
    out_.text.AppendSynthetic("\"", in_.OriginOf(t.begin));
    out_.text.AppendMapped(in_, t.begin, t.end);
    out_.text.AppendSynthetic("\"", in_.OriginOf(t.end));
    ++i_;
  }

  // A Spark type name starting at i_ (a word, then optional (...) or <...>), emitted as one
  // quoted name holding the lower-cased Spark text.
  void EmitType() {
    if (i_ >= toks_.size() || !toks_[i_].IsIdentifier()) return;  // libpg-query reports it
    size_t first = i_;
    size_t last = i_;
    size_t j = i_ + 1;
    if (j < toks_.size() && (toks_[j].IsSymbol("(") || toks_[j].IsSymbol("<"))) {
      int depth = 0;
      for (; j < toks_.size(); ++j) {
        if (toks_[j].IsSymbol("(") || toks_[j].IsSymbol("<")) ++depth;
        if (toks_[j].IsSymbol(")") || toks_[j].IsSymbol(">")) --depth;
        if (depth == 0) break;
      }
      if (j < toks_.size()) last = j;
    }
    std::string type_text;
    for (size_t k = first; k <= last; ++k) type_text += toks_[k].kind == TokenKind::kQuotedIdent ? toks_[k].value : toks_[k].text;
    BeginEmit(toks_[first]);
    out_.text.AppendSynthetic(QuoteIdent(ToLower(type_text)), in_.OriginOf(toks_[first].begin));
    for (size_t k = first + 1; k <= last; ++k) emitted_at_[k] = OutOffset();
    gap_from_ = toks_[last].end;  // the type's inner spaces are not copied
    i_ = last + 1;
  }

  size_t MatchingParen(size_t open) const {
    int depth = 0;
    for (size_t j = open; j < toks_.size(); ++j) {
      if (toks_[j].IsSymbol("(")) ++depth;
      if (toks_[j].IsSymbol(")") && --depth == 0) return j;
    }
    return std::string::npos;
  }

  // Functions whose first argument is a bare unit keyword in Spark (when they have three).
  static bool IsUnitFunction(const Token& t) {
    for (const char* f : {"timestampadd", "timestampdiff", "dateadd", "date_add", "datediff", "date_diff"}) {
      if (t.IsWord(f)) return true;
    }
    return false;
  }

  // The number of top-level arguments of the parenthesized list opening at `open`.
  size_t ArgumentCount(size_t open) const {
    size_t close = MatchingParen(open);
    if (close == std::string::npos || close == open + 1) return 0;
    size_t count = 1;
    int depth = 0;
    for (size_t j = open + 1; j < close; ++j) {
      if (toks_[j].IsSymbol("(")) ++depth;
      if (toks_[j].IsSymbol(")")) --depth;
      if (depth == 0 && toks_[j].IsSymbol(",")) ++count;
    }
    return count;
  }

  // An INTERVAL value in an expression: INTERVAL 1 DAY [2 HOURS ...], INTERVAL '2' HOUR,
  // INTERVAL '1 day 2 hours', INTERVAL -5 MINUTES. Checked here (so a bad literal names its
  // position) and emitted as CAST('<text>' AS "interval ..."), which the binder folds.
  Status ParseIntervalValue() {
    const Token& start = toks_[i_];
    SourceLocation loc = Loc(start);
    size_t j = i_ + 1;
    std::string text;
    bool any_day_time = false, only_days = true;
    auto note_unit = [&](IntervalUnit u) {
      if (!IsYearMonthUnit(u)) {
        any_day_time = true;
        if (u != IntervalUnit::kDay && u != IntervalUnit::kWeek) only_days = false;
      }
    };
    if (toks_[j].IsString()) {
      text = toks_[j].value;
      ++j;
      if (j < toks_.size() && toks_[j].kind == TokenKind::kWord && ParseIntervalUnit(toks_[j].text).ok()) {
        if (j + 1 < toks_.size() && toks_[j + 1].IsWord("TO")) {
          return NotSupportedAt(Loc(toks_[j]), "INTERVAL '...' " + ToUpper(toks_[j].text) +
                                                  " TO ... (ANSI interval text) is not built yet; write INTERVAL '1 day 2 hours'");
        }
        text += " " + toks_[j].text;
        ++j;
      }
    } else {
      // One or more `[-]number unit` pairs.
      while (j + 1 < toks_.size()) {
        std::string sign;
        size_t k = j;
        if (toks_[k].IsSymbol("-")) {
          sign = "-";
          ++k;
        }
        if (k + 1 >= toks_.size() || toks_[k].kind != TokenKind::kNumber || toks_[k + 1].kind != TokenKind::kWord) break;
        auto unit = ParseIntervalUnit(toks_[k + 1].text);
        if (!unit.ok()) {
          if (text.empty()) return ErrorAt(Loc(toks_[k + 1]), unit.status().message());
          break;
        }
        text += (text.empty() ? "" : " ") + sign + toks_[k].text + " " + toks_[k + 1].text;
        j = k + 2;
      }
      if (text.empty()) return ErrorAt(loc, "expected INTERVAL n UNIT, such as INTERVAL 5 MINUTES");
    }
    auto value = ParseIntervalText(text);
    if (!value.ok()) {
      return value.status().code() == StatusCode::kNotSupported ? NotSupportedAt(loc, value.status().message())
                                                                 : ErrorAt(loc, value.status().message());
    }
    // The units decide the type, as in Spark: INTERVAL 3 DAYS is `interval day` (a date
    // plus it stays a date), INTERVAL 3 HOURS `interval day to second`.
    for (const auto& word : SplitWords(text)) {
      auto u = ParseIntervalUnit(word);
      if (u.ok()) note_unit(*u);
    }
    std::string type = value->year_month ? "interval year to month"
                                         : (any_day_time && only_days ? "interval day" : "interval day to second");
    EmitSynthetic("CAST(" + QuoteString(text) + " AS " + QuoteIdent(type) + ")");
    while (i_ < j) {
      Drop(toks_[i_]);
      ++i_;
    }
    return Status::OK();
  }

  static std::vector<std::string> SplitWords(const std::string& s) {
    std::vector<std::string> out;
    std::string w;
    for (char c : s) {
      if (c == ' ') {
        if (!w.empty()) out.push_back(w);
        w.clear();
      } else {
        w += c;
      }
    }
    if (!w.empty()) out.push_back(w);
    return out;
  }

  Status ParseWatermark() {
    const Token& start = toks_[i_];
    if (last_item_start_ == std::string::npos) {
      return ErrorAt(Loc(start), "WATERMARK must follow a table in FROM");
    }
    Watermark wm;
    wm.loc = Loc(start);
    Drop(start);
    ++i_;
    if (!Peek(0).IsIdentifier()) return ErrorAt(Loc(Peek(0)), "expected a column name after WATERMARK");
    wm.column = Peek(0).value;
    Drop(Peek(0));
    ++i_;
    if (Peek(0).IsSymbol(".") || Peek(0).IsSymbol("(")) {
      return NotSupportedAt(Loc(Peek(0)), "WATERMARK on an expression; name a timestamp column of the table");
    }
    if (Peek(0).IsWord("AS")) {
      return NotSupportedAt(Loc(Peek(0)), "WATERMARK ... AS name; name a timestamp column of the table");
    }
    const char* kSeq[] = {"DELAY", "OF", "INTERVAL"};
    for (const char* k : kSeq) {
      if (!Peek(0).IsWord(k)) {
        return ErrorAt(Loc(Peek(0)), std::string("expected ") + k + " in WATERMARK col DELAY OF INTERVAL n unit");
      }
      Drop(Peek(0));
      ++i_;
    }
    double amount = 0;
    std::string unit;
    const Token& n = Peek(0);
    if (n.kind == TokenKind::kNumber) {
      amount = std::strtod(n.text.c_str(), nullptr);
      Drop(n);
      ++i_;
      if (Peek(0).kind != TokenKind::kWord) return ErrorAt(Loc(Peek(0)), "expected an interval unit (SECONDS, MINUTES, HOURS, DAYS)");
      unit = ToLower(Peek(0).text);
      Drop(Peek(0));
      ++i_;
    } else if (n.IsString()) {
      // INTERVAL '5 minutes' or INTERVAL '5' MINUTE
      std::string v = n.value;
      Drop(n);
      ++i_;
      char* endp = nullptr;
      amount = std::strtod(v.c_str(), &endp);
      std::string rest = endp ? std::string(endp) : "";
      while (!rest.empty() && rest.front() == ' ') rest.erase(rest.begin());
      if (!rest.empty()) {
        unit = ToLower(rest);
      } else if (Peek(0).kind == TokenKind::kWord) {
        unit = ToLower(Peek(0).text);
        Drop(Peek(0));
        ++i_;
      }
    } else {
      return ErrorAt(Loc(n), "expected the interval amount in WATERMARK ... DELAY OF INTERVAL n unit");
    }
    if (!unit.empty() && unit.back() == 's') unit.pop_back();
    double micros_per;
    if (unit == "second") micros_per = 1e6;
    else if (unit == "minute") micros_per = 60e6;
    else if (unit == "hour") micros_per = 3600e6;
    else if (unit == "day") micros_per = 86400e6;
    else if (unit == "millisecond") micros_per = 1e3;
    else return ErrorAt(wm.loc, "unknown interval unit `" + unit + "` in WATERMARK (use SECONDS, MINUTES, HOURS or DAYS)");
    if (!(amount > 0)) return ErrorAt(wm.loc, "WATERMARK delay must be positive");
    wm.delay_micros = static_cast<int64_t>(std::llround(amount * micros_per));
    out_.watermarks[last_item_start_] = wm;
    return Status::OK();
  }

  // WITH (key [=] value, ...) after a FROM item: read options of that item.
  Status ParseTableOptions() {
    const Token& start = toks_[i_];
    RewrittenSql::TableOptions opts;
    opts.loc = Loc(start);
    size_t close = MatchingParen(i_ + 1);
    if (close == std::string::npos) return ErrorAt(Loc(start), "unclosed WITH ( ... ) options");
    Drop(start);
    ++i_;
    Drop(toks_[i_]);  // (
    ++i_;
    while (i_ < close) {
      const Token& key = Peek(0);
      if (!(key.IsIdentifier() || key.IsString() || key.kind == TokenKind::kWord)) {
        return ErrorAt(Loc(key), "expected an option name in WITH (name = value, ...)");
      }
      std::string name = key.value;
      Drop(key);
      ++i_;
      if (Peek(0).IsSymbol("=")) {
        Drop(Peek(0));
        ++i_;
      }
      const Token& value = Peek(0);
      if (i_ >= close || value.IsSymbol(",")) return ErrorAt(Loc(value), "expected a value for option " + name);
      opts.options.emplace_back(name, value.value);
      Drop(value);
      ++i_;
      if (Peek(0).IsSymbol(",")) {
        Drop(Peek(0));
        ++i_;
      } else if (i_ < close) {
        return ErrorAt(Loc(Peek(0)), "expected , or ) in WITH (name = value, ...)");
      }
    }
    Drop(toks_[close]);
    i_ = close + 1;
    out_.table_options[last_item_start_] = opts;
    return Status::OK();
  }

  // Databricks' JSON path operator `col:path` (col a column, possibly qualified): when the
  // column starts here, `"$json_path"(` goes in front of it; EmitColonPath closes the call.
  void StartColonPath(const Token& t) {
    size_t j = i_;
    while (j + 2 < toks_.size() && toks_[j + 1].IsSymbol(".") && toks_[j + 2].IsIdentifier()) j += 2;
    if (j + 2 >= toks_.size() || !toks_[j + 1].IsSymbol(":")) return;
    if (!(toks_[j + 2].IsIdentifier() || toks_[j + 2].IsSymbol("["))) return;
    out_.text.AppendMapped(in_, gap_from_, t.begin);
    gap_from_ = t.begin;
    out_.text.AppendSynthetic("\"$json_path\"(", in_.OriginOf(t.begin));
    colon_paths_.insert(j + 1);
  }

  // At the `:` of `col:path`: the path's tokens (name | [..], then .name | [..] ...) become
  // the call's second argument, their source text as a string.
  Status EmitColonPath() {
    size_t k = i_ + 1;
    bool first = true;
    for (;;) {
      if (k < toks_.size() && toks_[k].IsSymbol("[")) {
        size_t close = k + 2;
        if (close >= toks_.size() || !toks_[close].IsSymbol("]")) {
          return ErrorAt(Loc(toks_[k]), "expected ['name'], [index] or [*] in a JSON path");
        }
        k = close + 1;
      } else if (first && k < toks_.size() && toks_[k].IsIdentifier()) {
        ++k;
      } else if (!first && k + 1 < toks_.size() && toks_[k].IsSymbol(".") && toks_[k + 1].IsIdentifier()) {
        k += 2;
      } else {
        break;
      }
      first = false;
    }
    const std::string& src = in_.text();
    std::string path = src.substr(toks_[i_ + 1].begin, toks_[k - 1].end - toks_[i_ + 1].begin);
    EmitSynthetic(", " + QuoteString(path) + ")");
    while (i_ < k) {
      Drop(toks_[i_]);
      ++i_;
    }
    return Status::OK();
  }

  // LATERAL VIEW [OUTER] gen(args) t [AS] a, b -> , LATERAL gen[_outer](args) AS t(a, b).
  // The call's tokens go through the normal rewrite; the tail is rebuilt at its `)`.
  Status LateralView() {
    const Token& start = toks_[i_];
    if (!levels_.back().in_from) return ErrorAt(Loc(start), "LATERAL VIEW must follow a FROM item");
    EmitSynthetic(", LATERAL");
    Drop(toks_[i_]);  // VIEW
    ++i_;
    bool outer = false;
    if (Peek(0).IsWord("OUTER")) {
      outer = true;
      Drop(toks_[i_]);
      ++i_;
    }
    const Token& fn = Peek(0);
    if (!fn.IsIdentifier() || !Peek(1).IsSymbol("(")) {
      return ErrorAt(Loc(fn), "expected a generator call after LATERAL VIEW, such as explode(items)");
    }
    size_t close = MatchingParen(i_ + 1);
    if (close == std::string::npos) return ErrorAt(Loc(Peek(1)), "unclosed ( in LATERAL VIEW");
    std::string name = ToLower(fn.value);
    if (outer && !(name.size() > 6 && name.compare(name.size() - 6, 6, "_outer") == 0) && name != "json_tuple") name += "_outer";
    BeginEmit(fn);
    out_.lateral_views.insert(OutOffset());
    out_.text.AppendSynthetic(QuoteIdent(name), in_.OriginOf(fn.begin));
    ++i_;
    lateral_close_ = close;
    return Status::OK();
  }

  // After the `)` of a LATERAL VIEW call: `t [AS] a, b` -> ` AS "t"("a", "b")`.
  Status LateralViewAliases() {
    if (!Peek(0).IsIdentifier() || Peek(0).IsWord("AS")) {
      const Token& at = Peek(0).text.empty() ? toks_[i_ - 1] : Peek(0);
      return ErrorAt(Loc(at), "LATERAL VIEW needs a table alias after the call: LATERAL VIEW explode(items) t AS item");
    }
    std::string text = " AS " + QuoteIdent(Peek(0).value);
    size_t origin = Peek(0).begin;
    Drop(Peek(0));
    ++i_;
    std::vector<std::string> cols;
    if (Peek(0).IsWord("AS")) {
      Drop(Peek(0));
      ++i_;
    }
    while (Peek(0).IsIdentifier() && !IsClauseEnd(Peek(0)) && !Peek(0).IsWord("LATERAL") && !Peek(0).IsWord("JOIN")) {
      cols.push_back(QuoteIdent(Peek(0).value));
      Drop(Peek(0));
      ++i_;
      if (!Peek(0).IsSymbol(",") || !Peek(1).IsIdentifier() || IsClauseEnd(Peek(1)) || Peek(1).IsWord("LATERAL")) break;
      Drop(Peek(0));
      ++i_;
    }
    if (!cols.empty()) {
      text += "(";
      for (size_t k = 0; k < cols.size(); ++k) text += (k ? ", " : "") + cols[k];
      text += ")";
    }
    out_.text.AppendSynthetic(text, in_.OriginOf(origin));
    return Status::OK();
  }

  Status Step() {
    const Token& t = toks_[i_];
    Level& top = levels_.back();
    if (t.IsSymbol(":") && colon_paths_.count(i_)) return EmitColonPath();
    if (t.kind == TokenKind::kSymbol) {
      if (dropped_parens_.count(i_)) {
        Drop(t);
        ++i_;
        return Status::OK();
      }
      if (t.IsSymbol("(")) {
        Level next;
        next.query = Peek(1).IsWord("SELECT") || Peek(1).IsWord("WITH");
        next.cast = cast_paren_pending_;
        cast_paren_pending_ = false;
        levels_.push_back(next);
        EmitVerbatim();
        return Status::OK();
      }
      if (t.IsSymbol(")")) {
        if (top.qualify_open) CloseQualify(top);
        if (levels_.size() > 1) levels_.pop_back();
        bool wrap = close_after_.count(i_) > 0;
        bool lateral = i_ == lateral_close_;
        EmitVerbatim();
        if (wrap) out_.text.AppendSynthetic(")", in_.OriginOf(t.end));
        if (lateral) {
          lateral_close_ = std::string::npos;
          return LateralViewAliases();
        }
        return Status::OK();
      }
      if (t.IsSymbol(",")) {
        bool in_from = top.in_from;
        EmitVerbatim();
        if (in_from) item_start_pending_ = true;
        return Status::OK();
      }
      if (t.IsSymbol("::")) {
        EmitVerbatim();
        EmitType();
        return Status::OK();
      }
      if (t.IsSymbol("*") && Peek(1).IsWord("EXCEPT") && Peek(2).IsSymbol("(")) {
        size_t star_index = i_;
        size_t key_index = star_index;
        while (key_index >= 2 && toks_[key_index - 1].IsSymbol(".") && toks_[key_index - 2].IsIdentifier()) key_index -= 2;
        EmitVerbatim();
        size_t key = key_index == star_index ? emitted_at_[star_index] : emitted_at_[key_index];
        Drop(toks_[i_]);  // EXCEPT
        ++i_;
        size_t close = MatchingParen(i_);
        if (close == std::string::npos) return ErrorAt(Loc(toks_[i_]), "unclosed ( after * EXCEPT");
        std::vector<std::string> names;
        for (size_t k = i_ + 1; k < close; ++k) {
          const Token& c = toks_[k];
          if (c.IsIdentifier()) {
            if (k + 1 < close && toks_[k + 1].IsSymbol(".")) continue;  // qualifier: keep the last part
            names.push_back(c.value);
          } else if (!c.IsSymbol(",") && !c.IsSymbol(".")) {
            return ErrorAt(Loc(c), "expected column names in * EXCEPT (...)");
          }
        }
        if (names.empty()) return ErrorAt(Loc(toks_[i_]), "* EXCEPT () needs at least one column");
        for (; i_ <= close; ++i_) Drop(toks_[i_]);
        out_.star_excepts[key] = std::move(names);
        return Status::OK();
      }
      EmitVerbatim();
      return Status::OK();
    }
    if (t.IsIdentifier() && !(i_ > 0 && toks_[i_ - 1].IsSymbol("."))) StartColonPath(t);
    if (t.kind == TokenKind::kQuotedIdent) {
      EmitSynthetic(QuoteIdent(t.value));
      return Status::OK();
    }
    if (t.IsString()) {
      if (t.value.find('\0') != std::string::npos) {
        return NotSupportedAt(Loc(t), "NUL characters in string literals");
      }
      EmitSynthetic(QuoteString(t.value));
      return Status::OK();
    }
    if (t.kind == TokenKind::kNumber) {
      EmitVerbatim();
      return Status::OK();
    }
    // Words.
    // f(x).field and f(x)[k]: PostgreSQL only subscripts a parenthesized call, so the call
    // gets parentheses.
    if (Peek(1).IsSymbol("(")) {
      size_t close = MatchingParen(i_ + 1);
      if (close != std::string::npos && close + 2 < toks_.size() &&
          ((toks_[close + 1].IsSymbol(".") && toks_[close + 2].IsIdentifier()) || toks_[close + 1].IsSymbol("["))) {
        out_.text.AppendMapped(in_, gap_from_, t.begin);
        gap_from_ = t.begin;
        out_.text.AppendSynthetic("(", in_.OriginOf(t.begin));
        close_after_.insert(close);
      }
    }
    if (t.IsWord("FROM")) {
      bool query = top.query;
      EmitVerbatim();
      if (query) {
        levels_.back().in_from = true;
        item_start_pending_ = true;
      }
      return Status::OK();
    }
    if (t.IsWord("JOIN")) {
      bool in_from = top.in_from;
      EmitVerbatim();
      if (in_from) item_start_pending_ = true;
      return Status::OK();
    }
    if (t.IsWord("QUALIFY") && top.query) {
      if (top.qualify_open) return ErrorAt(Loc(t), "QUALIFY appears twice");
      top.in_from = false;
      bool after_window = top.window_seen;
      top.window_seen = true;
      top.qualify_open = true;
      EmitSynthetic(after_window ? ", \"$qualify\" AS (ORDER BY " : "WINDOW \"$qualify\" AS (ORDER BY ");
      return Status::OK();
    }
    // Spark's time window: window(...) and the struct column `window` it groups by, with
    // its fields start/end. WINDOW and END are reserved words in PostgreSQL: quote them.
    // The WINDOW clause is always `WINDOW name AS (...)`.
    if (t.IsWord("window") && !(Peek(1).kind == TokenKind::kWord && Peek(2).IsWord("AS"))) {
      EmitSynthetic(QuoteIdent("window"));
      return Status::OK();
    }
    // `offset` is a column name in Spark (read_kafka's), a reserved word in PostgreSQL:
    // quoted unless it is the OFFSET clause (followed by its number or expression).
    if (t.IsWord("offset") && !(Peek(1).kind == TokenKind::kNumber || Peek(1).IsSymbol("(") ||
                                (Peek(1).kind == TokenKind::kWord && !Peek(1).IsWord("FROM") &&
                                 !Peek(1).IsWord("AS") && !Peek(1).IsWord("IS") && !Peek(1).IsWord("AND") &&
                                 !Peek(1).IsWord("OR") && !Peek(1).IsWord("IN") && !Peek(1).IsWord("NOT") &&
                                 !Peek(1).IsWord("BETWEEN") && !Peek(1).IsWord("LIKE") && !Peek(1).IsWord("DESC") &&
                                 !Peek(1).IsWord("ASC") && !Peek(1).IsWord("WHERE") && !Peek(1).IsWord("GROUP") &&
                                 !Peek(1).IsWord("ORDER") && !Peek(1).IsWord("LIMIT") && !Peek(1).IsWord("NULLS") &&
                                 !Peek(1).IsWord("THEN") && !Peek(1).IsWord("ELSE") && !Peek(1).IsWord("END") &&
                                 !Peek(1).IsWord("WHEN") && !Peek(1).IsWord("HAVING") && !Peek(1).IsWord("UNION")))) {
      EmitSynthetic(QuoteIdent("offset"));
      return Status::OK();
    }
    if ((t.IsWord("end") || t.IsWord("start")) && i_ > 0 && toks_[i_ - 1].IsSymbol(".")) {
      EmitSynthetic(QuoteIdent(ToLower(t.text)));
      return Status::OK();
    }
    if (top.qualify_open && EndsQualify(t)) CloseQualify(top);
    if (t.IsWord("WINDOW") && top.query) {
      top.in_from = false;
      if (top.window_seen) {
        EmitSynthetic(",");
        return Status::OK();
      }
      top.window_seen = true;
    }
    // `kafka.security.protocol => ...`: Databricks requires backticks around a dotted
    // option name; without them the parser's error would point at `=>` and say nothing.
    if (t.IsIdentifier() && Peek(1).IsSymbol(".") && !(i_ > 0 && toks_[i_ - 1].IsSymbol("."))) {
      size_t j = i_;
      while (j + 2 < toks_.size() && toks_[j + 1].IsSymbol(".") && toks_[j + 2].IsIdentifier()) j += 2;
      if (j + 1 < toks_.size() && toks_[j + 1].IsSymbol("=>")) {
        std::string name = in_.text().substr(t.begin, toks_[j].end - t.begin);
        return ErrorAt(Loc(t), "an option name that contains dots needs backticks, as in Databricks: `" + name +
                                   "` => ...");
      }
    }
    // A keyword on a dotted path (`order.items`, `s.order`) is a name: Spark reserves
    // fewer words than PostgreSQL.
    if (!t.IsWord("LIVE") && ((Peek(1).IsSymbol(".") && Peek(2).IsIdentifier()) || (i_ > 0 && toks_[i_ - 1].IsSymbol("."))) &&
        IsPostgresKeyword(t.text)) {
      EmitQuotedWord();
      return Status::OK();
    }
    if (IsClauseEnd(t)) {
      top.in_from = false;
      EmitVerbatim();
      return Status::OK();
    }
    if (t.IsWord("LATERAL") && Peek(1).IsWord("VIEW")) return LateralView();
    // Spark's array(a, b) constructor: ARRAY is a PostgreSQL keyword (ARRAY[...],
    // ARRAY(subquery)), so the function name is quoted.
    if (t.IsWord("array") && Peek(1).IsSymbol("(") && !Peek(2).IsWord("SELECT") && !Peek(2).IsWord("WITH")) {
      EmitSynthetic(QuoteIdent("array"));
      return Status::OK();
    }
    if (t.IsWord("PIVOT") || t.IsWord("UNPIVOT") || t.IsWord("TABLESAMPLE")) {
      return NotSupportedAt(Loc(t), ToUpper(t.text));
    }
    if ((t.IsWord("CLUSTER") || t.IsWord("DISTRIBUTE") || t.IsWord("SORT")) && Peek(1).IsWord("BY")) {
      return NotSupportedAt(Loc(t), ToUpper(t.text) + " BY (use ORDER BY in a materialized view)");
    }
    if (t.IsWord("STREAM") && item_start_pending_) {
      if (Peek(1).IsSymbol("(")) {
        size_t close = MatchingParen(i_ + 1);
        if (close == std::string::npos) return ErrorAt(Loc(Peek(1)), "unclosed ( after STREAM");
        dropped_parens_.insert(close);
        Drop(t);
        ++i_;
        Drop(toks_[i_]);
        ++i_;
        stream_pending_ = true;
        return Status::OK();
      }
      if (Peek(1).IsIdentifier()) {
        Drop(t);
        ++i_;
        stream_pending_ = true;
        return Status::OK();
      }
    }
    if (t.IsWord("LIVE") && Peek(1).IsSymbol(".")) {
      Drop(t);
      ++i_;
      Drop(toks_[i_]);
      ++i_;
      return Status::OK();
    }
    if (t.IsWord("TRY_CAST") && Peek(1).IsSymbol("(")) {
      EmitSynthetic("CAST");
      out_.try_casts.insert(emitted_at_[i_ - 1]);
      cast_paren_pending_ = true;
      return Status::OK();
    }
    if (t.IsWord("CAST") && Peek(1).IsSymbol("(")) {
      cast_paren_pending_ = true;
      EmitVerbatim();
      return Status::OK();
    }
    if (t.IsWord("AS") && top.cast) {
      EmitVerbatim();
      EmitType();
      return Status::OK();
    }
    if (t.IsWord("AS") && Peek(1).kind == TokenKind::kWord) {
      // An alias after AS is always a name, even when it is a keyword (AS Year): quoting
      // it keeps its case.
      EmitVerbatim();
      EmitQuotedWord();
      return Status::OK();
    }
    if ((t.IsWord("current_timestamp") || t.IsWord("current_date")) && Peek(1).IsSymbol("(") &&
        Peek(2).IsSymbol(")")) {
      EmitVerbatim();
      Drop(toks_[i_]);
      ++i_;
      Drop(toks_[i_]);
      ++i_;
      return Status::OK();
    }
    if (t.IsWord("RLIKE") || t.IsWord("REGEXP")) {
      EmitSynthetic("~");
      return Status::OK();
    }
    if (t.IsWord("ALL") && i_ >= 2 && toks_[i_ - 1].IsWord("BY") && toks_[i_ - 2].IsWord("GROUP") &&
        (Peek(1).text.empty() || Peek(1).IsSymbol(")") || Peek(1).IsSymbol(";") || IsClauseEnd(Peek(1)))) {
      // GROUP BY ALL -> GROUP BY () (an empty grouping set), its offset remembered.
      BeginEmit(t);
      out_.group_by_all.insert(OutOffset());
      out_.text.AppendSynthetic("()", in_.OriginOf(t.begin));
      ++i_;
      return Status::OK();
    }
    if (t.IsWord("WATERMARK") && top.in_from) return ParseWatermark();
    if (t.IsWord("WITH") && top.in_from && Peek(1).IsSymbol("(") && last_item_start_ != std::string::npos) {
      return ParseTableOptions();
    }
    if (t.IsWord("INTERVAL") &&
        (Peek(1).kind == TokenKind::kNumber || Peek(1).IsString() || (Peek(1).IsSymbol("-") && Peek(2).kind == TokenKind::kNumber))) {
      return ParseIntervalValue();
    }
    if (i_ >= 2 && toks_[i_ - 1].IsSymbol("(") && IsUnitFunction(toks_[i_ - 2]) && Peek(1).IsSymbol(",") &&
        ParseIntervalUnit(t.text).ok() && ArgumentCount(i_ - 1) == 3) {
      // timestampadd(MINUTE, n, ts): the unit is a keyword in Spark; pass it as a string.
      EmitSynthetic(QuoteString(ToUpper(t.text)));
      return Status::OK();
    }
    if (IsPostgresKeyword(t.text)) {
      EmitVerbatim();
    } else {
      EmitQuotedWord();
    }
    return Status::OK();
  }

  const MappedText& in_;
  const std::vector<Token>& toks_;
  RewrittenSql out_;
  size_t i_ = 0;
  size_t gap_from_ = 0;
  std::vector<size_t> emitted_at_;  // output offset where token k was emitted (or dropped)
  std::vector<Level> levels_;
  std::set<size_t> dropped_parens_;
  std::set<size_t> close_after_;  // `)` of a call to parenthesize (f(x).field)
  std::set<size_t> colon_paths_;  // `:` tokens of `col:path`
  size_t lateral_close_ = std::string::npos;  // `)` of the LATERAL VIEW call being rewritten
  bool item_start_pending_ = false;
  bool stream_pending_ = false;
  bool cast_paren_pending_ = false;
  size_t last_item_start_ = std::string::npos;
};

}  // namespace

Result<RewrittenSql> RewriteSparkSql(const MappedText& sql) {
  LP_ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(sql));
  Rewriter r(sql, toks);
  return r.Run();
}

}  // namespace lakepipe::sql
