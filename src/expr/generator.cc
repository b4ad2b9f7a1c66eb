#include "expr/generator.h"

#include <algorithm>

#include "expr/eval_internal.h"

namespace lakepipe::expr {
namespace {

struct Entry {
  const char* name;
  GeneratorKind kind;
  bool outer;
};

constexpr Entry kGenerators[] = {
    {"explode", GeneratorKind::kExplode, false},       {"explode_outer", GeneratorKind::kExplode, true},
    {"posexplode", GeneratorKind::kPosExplode, false}, {"posexplode_outer", GeneratorKind::kPosExplode, true},
    {"inline", GeneratorKind::kInline, false},         {"inline_outer", GeneratorKind::kInline, true},
    {"json_tuple", GeneratorKind::kJsonTuple, false},
};

const Entry* Find(std::string_view name) {
  for (const Entry& e : kGenerators) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Status Error(const Expr& call, const std::string& message) {
  return Status::InvalidArgument(PositionPrefix(call.pos) + message + " in `" + call.ToString() + "`");
}

}  // namespace

bool IsGenerator(std::string_view lower_name) { return Find(lower_name) != nullptr; }

std::vector<std::string> GeneratorNames() {
  std::vector<std::string> out;
  for (const Entry& e : kGenerators) out.push_back(e.name);
  return out;
}

bool ContainsGenerator(const Expr& e) {
  for (const auto& a : e.args) {
    if (a->kind == ExprKind::kCall && IsGenerator(Lower(a->function))) return true;
    if (ContainsGenerator(*a)) return true;
  }
  return false;
}

Result<BoundGenerator> BindGenerator(const Expr& call, const Schema& input, const BindContext& context) {
  const Entry* entry = Find(Lower(call.function));
  if (entry == nullptr) return Error(call, "`" + call.function + "` is not a generator");
  BoundGenerator g;
  g.kind = entry->kind;
  g.outer = entry->outer;
  for (const auto& a : call.args) {
    LP_ASSIGN_OR_RETURN(BoundExpr b, Bind(*a, input, context));
    g.args.push_back(std::move(b));
  }
  if (g.kind == GeneratorKind::kJsonTuple) {
    if (g.args.size() < 2) return Error(call, "`json_tuple` takes a JSON string and at least one key");
    if (g.args[0].type.id() != TypeId::kString && g.args[0].type.id() != TypeId::kNull) {
      return Error(call, "the first argument of `json_tuple` is a string, not " + g.args[0].type.ToString());
    }
    for (size_t i = 1; i < g.args.size(); ++i) {
      if (!g.args[i].is_literal() || g.args[i].type.id() != TypeId::kString || g.args[i].literal.is_null()) {
        return Status::NotSupported(PositionPrefix(call.pos) + "`json_tuple` keys must be string constants in `" +
                                    call.ToString() + "`");
      }
      g.keys.push_back(g.args[i].literal.string_value());
      g.outputs.push_back(Field{"c" + std::to_string(i - 1), DataType::String(), true});
    }
    g.args.resize(1);
    return g;
  }
  if (g.args.size() != 1) return Error(call, "`" + std::string(entry->name) + "` takes one argument, got " + std::to_string(g.args.size()));
  const DataType& t = g.args[0].type;
  if (g.kind == GeneratorKind::kInline) {
    if (t.id() != TypeId::kArray || t.element().id() != TypeId::kStruct) {
      return Error(call, "`" + std::string(entry->name) + "` takes an array of structs, not " + t.ToString());
    }
    for (const Field& f : t.element().fields()) g.outputs.push_back(Field{f.name, f.type, true});
    return g;
  }
  if (g.kind == GeneratorKind::kPosExplode) g.outputs.push_back(Field{"pos", DataType::Int(), !g.outer ? false : true});
  if (t.id() == TypeId::kArray) {
    g.outputs.push_back(Field{"col", t.element(), true});
  } else if (t.id() == TypeId::kMap) {
    g.outputs.push_back(Field{"key", t.key(), g.outer});
    g.outputs.push_back(Field{"value", t.value(), true});
  } else {
    return Error(call, "`" + std::string(entry->name) + "` takes an array or a map, not " + t.ToString());
  }
  return g;
}

}  // namespace lakepipe::expr
