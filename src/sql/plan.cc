#include "sql/plan.h"

namespace lakepipe::sql {

const char* PlanKindName(PlanKind kind) {
  switch (kind) {
    case PlanKind::kTableScan: return "TableScan";
    case PlanKind::kReadFiles: return "ReadFiles";
    case PlanKind::kReadStream: return "ReadStream";
    case PlanKind::kFilter: return "Filter";
    case PlanKind::kProject: return "Project";
    case PlanKind::kAggregate: return "Aggregate";
    case PlanKind::kJoin: return "Join";
    case PlanKind::kUnionAll: return "UnionAll";
    case PlanKind::kSort: return "Sort";
    case PlanKind::kLimit: return "Limit";
    case PlanKind::kSubqueryAlias: return "SubqueryAlias";
    case PlanKind::kDistinct: return "Distinct";
    case PlanKind::kWindow: return "Window";
    case PlanKind::kGenerate: return "Generate";
  }
  return "?";
}

namespace {
std::string Join(const std::vector<std::string>& parts, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}
}  // namespace

std::string PlanNode::ToString(int indent) const {
  std::string s(static_cast<size_t>(indent) * 2, ' ');
  s += PlanKindName(kind);
  switch (kind) {
    case PlanKind::kTableScan:
      s += std::string(" ") + (streaming ? "STREAM " : "") + table;
      if (read_change_feed) {
        s += streaming ? " change feed"
                       : " changes " + std::to_string(change_feed_start) + ".." +
                             (change_feed_end ? std::to_string(*change_feed_end) : std::string("latest"));
      }
      if (!alias.empty() && alias != table) s += " AS " + alias;
      break;
    case PlanKind::kReadFiles: {
      s += std::string(" ") + (streaming ? "STREAM " : "") + read_files.format + " '" + read_files.path + "'";
      if (!alias.empty()) s += " AS " + alias;
      if (!read_files.metadata_columns.empty()) s += " metadata=[" + Join(read_files.metadata_columns) + "]";
      break;
    }
    case PlanKind::kReadStream: {
      s += std::string(" ") + (streaming ? "STREAM " : "") + stream_source.function + "(";
      bool first = true;
      for (const auto& [k, v] : stream_source.options) {
        // Secrets (kafka.sasl.jaas.config holds a password) never reach plan printouts.
        bool secret = k.find("jaas") != std::string::npos || k.find("password") != std::string::npos;
        s += (first ? "" : ", ") + k + " => '" + (secret ? std::string("***") : v) + "'";
        first = false;
      }
      s += ")";
      if (!alias.empty()) s += " AS " + alias;
      break;
    }
    case PlanKind::kFilter: s += " " + predicate->ToString(); break;
    case PlanKind::kProject: {
      std::vector<std::string> parts;
      for (const auto& item : items) {
        if (item.is_star) {
          std::string star = item.star_qualifier.empty() ? "*" : item.star_qualifier + ".*";
          if (!item.star_except.empty()) star += " EXCEPT (" + Join(item.star_except) + ")";
          parts.push_back(star);
        } else {
          std::string e = item.expr->ToString();
          parts.push_back(e == item.name ? e : e + " AS " + item.name);
        }
      }
      s += " " + Join(parts);
      break;
    }
    case PlanKind::kAggregate: {
      std::vector<std::string> keys, aggs;
      for (const auto& k : group_keys) keys.push_back(k.expr->ToString() + " AS " + k.name);
      for (const auto& a : aggregates) aggs.push_back(a.expr->ToString() + " AS " + a.name);
      s += " keys=[" + Join(keys) + "] aggs=[" + Join(aggs) + "]";
      if (!grouping_ids.empty()) {
        std::vector<std::string> ids;
        for (int64_t id : grouping_ids) ids.push_back(std::to_string(id));
        s += " grouping_ids=[" + Join(ids) + "]";
      }
      break;
    }
    case PlanKind::kJoin:
      s += join_type == JoinType::kLeft ? " LEFT" : " INNER";
      if (join_condition) s += " ON " + join_condition->ToString();
      break;
    case PlanKind::kSort: {
      std::vector<std::string> keys;
      for (const auto& k : sort_keys) {
        std::string key = k.expr ? k.expr->ToString() : std::to_string(k.ordinal);
        keys.push_back(key + (k.ascending ? " ASC" : " DESC") + (k.nulls_first ? " NULLS FIRST" : " NULLS LAST"));
      }
      s += " " + Join(keys);
      break;
    }
    case PlanKind::kLimit: s += " " + std::to_string(limit); break;
    case PlanKind::kWindow: {
      std::vector<std::string> fns;
      for (const auto& w : window_functions) fns.push_back(w.text + " AS " + w.name);
      s += " " + Join(fns);
      break;
    }
    case PlanKind::kGenerate:
      s += " " + generator->ToString();
      if (!generator_alias.empty()) s += " " + generator_alias;
      if (!generator_names.empty()) s += " AS " + Join(generator_names);
      break;
    case PlanKind::kSubqueryAlias: s += " " + (alias.empty() ? std::string("(unnamed)") : alias); break;
    case PlanKind::kUnionAll:
    case PlanKind::kDistinct: break;
  }
  if (watermark) {
    s += " WATERMARK " + watermark->column + " DELAY " + std::to_string(watermark->delay_micros / 1000000) + "s";
  }
  if (resolved) s += "  -> [" + Join(schema.names()) + "]";
  s += "\n";
  for (const auto& in : inputs) s += in->ToString(indent + 1);
  return s;
}

}  // namespace lakepipe::sql
