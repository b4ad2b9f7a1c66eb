#include "governance/grants.h"

#include <memory>

#include "sql/lexer.h"

namespace lakepipe::governance {
namespace {

class GrantParser {
 public:
  GrantParser(const sql::MappedText& text, std::vector<sql::Token> tokens)
      : text_(text), tokens_(std::move(tokens)) {}

  Result<std::vector<GrantStatement>> Parse() {
    std::vector<GrantStatement> out;
    while (!AtEnd()) {
      if (Peek().IsSymbol(";")) {  // empty statement
        ++pos_;
        continue;
      }
      LP_ASSIGN_OR_RETURN(GrantStatement s, Statement());
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  bool AtEnd() const { return pos_ >= tokens_.size(); }
  const sql::Token& Peek() const { return tokens_[pos_]; }
  sql::SourceLocation LocOf(size_t i) const {
    return text_.Locate(i < tokens_.size() ? tokens_[i].begin : text_.text().size());
  }
  sql::SourceLocation Here() const { return LocOf(pos_); }
  std::string Shown() const { return AtEnd() ? "the end of the file" : "`" + Peek().text + "`"; }

  Status Expected(const std::string& what) const { return sql::ErrorAt(Here(), "expected " + what + ", found " + Shown()); }

  bool TakeWord(std::string_view w) {
    if (!AtEnd() && Peek().IsWord(w)) {
      ++pos_;
      return true;
    }
    return false;
  }
  Status ExpectWord(std::string_view w, const std::string& what) {
    if (!TakeWord(w)) return Expected(what);
    return Status::OK();
  }
  Result<std::string> Name(const std::string& what, bool allow_star) {
    if (!AtEnd() && Peek().IsIdentifier()) return tokens_[pos_++].value;
    if (allow_star && !AtEnd() && Peek().IsSymbol("*")) {
      ++pos_;
      return std::string("*");
    }
    return Expected(what);
  }

  Result<GrantStatement> Statement() {
    GrantStatement s;
    s.loc = Here();
    if (TakeWord("GRANT")) {
      s.revoke = false;
    } else if (TakeWord("REVOKE")) {
      s.revoke = true;
    } else {
      return Expected("GRANT or REVOKE (a grants file holds only GRANT SELECT ... and REVOKE SELECT ... statements)");
    }
    // Privileges: SELECT or ALL [PRIVILEGES], comma-separated.
    for (;;) {
      if (TakeWord("SELECT")) {
      } else if (TakeWord("ALL")) {
        TakeWord("PRIVILEGES");
      } else if (!AtEnd() && Peek().IsIdentifier()) {
        return sql::NotSupportedAt(Here(), "privilege " + Peek().text +
                                               ": the API's grants know SELECT (and ALL PRIVILEGES, which means SELECT)");
      } else {
        return Expected("a privilege (SELECT)");
      }
      if (AtEnd() || !Peek().IsSymbol(",")) break;
      ++pos_;
    }
    LP_RETURN_IF_ERROR(ExpectWord("ON", "ON after the privileges"));
    s.table_loc = Here();
    if (TakeWord("TABLE")) {
      LP_ASSIGN_OR_RETURN(std::string first, Name("a table name (table, pipeline.table, pipeline.* or *)", true));
      if (!AtEnd() && Peek().IsSymbol(".")) {
        ++pos_;
        if (first == "*") return sql::ErrorAt(s.table_loc, "`*.name` is not a table name; use * or pipeline.*");
        s.pipeline = first;
        LP_ASSIGN_OR_RETURN(s.table, Name("a table name or * after `" + first + ".`", true));
        if (!AtEnd() && Peek().IsSymbol(".")) {
          return sql::NotSupportedAt(Here(), "three-part names: a table is named table or pipeline.table (the pipeline is the schema)");
        }
      } else {
        s.table = first;
      }
    } else if (TakeWord("SCHEMA")) {
      LP_ASSIGN_OR_RETURN(s.pipeline, Name("a pipeline name after SCHEMA", false));
      s.table = "*";
    } else if (!AtEnd() && Peek().IsIdentifier()) {
      return sql::NotSupportedAt(Here(), "securable " + Peek().text + ": grants are ON TABLE name or ON SCHEMA pipeline");
    } else {
      return Expected("TABLE or SCHEMA after ON");
    }
    LP_RETURN_IF_ERROR(ExpectWord(s.revoke ? "FROM" : "TO", s.revoke ? "FROM and the principals" : "TO and the principals"));
    for (;;) {
      s.grantee_locs.push_back(Here());
      LP_ASSIGN_OR_RETURN(std::string grantee, Name("a principal or group name", false));
      s.grantees.push_back(std::move(grantee));
      if (AtEnd() || !Peek().IsSymbol(",")) break;
      ++pos_;
    }
    if (AtEnd() || !Peek().IsSymbol(";")) return Expected("`;` at the end of the statement");
    ++pos_;
    return s;
  }

  const sql::MappedText& text_;
  std::vector<sql::Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<GrantStatement>> ParseGrants(const std::string& text, const std::string& file) {
  auto source = std::make_shared<const sql::SourceFile>(file, text);
  sql::MappedText mapped = sql::MappedText::Of(source);
  LP_ASSIGN_OR_RETURN(auto tokens, sql::Lex(mapped));
  GrantParser parser(mapped, std::move(tokens));
  return parser.Parse();
}

}  // namespace lakepipe::governance
