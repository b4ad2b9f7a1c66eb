#include "kafka/options/kafka_options.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <optional>
#include <cstdlib>
#include <memory>
#include <regex>

#include <nlohmann/json.hpp>

namespace lakepipe::kafka {
namespace {

using Json = nlohmann::json;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<int64_t> ParseInt(const std::string& option, const std::string& v, int64_t min) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < min) {
    return Status::InvalidArgument("read_kafka option `" + option + "` must be an integer >= " +
                                   std::to_string(min) + ", not '" + v + "'");
  }
  return static_cast<int64_t>(x);
}

Result<bool> ParseBool(const std::string& option, const std::string& v) {
  std::string l = Lower(v);
  if (l == "true") return true;
  if (l == "false") return false;
  return Status::InvalidArgument("read_kafka option `" + option + "` must be true or false, not '" + v + "'");
}

// Spark's partition JSON: {"topic":{"0":23,"1":-2}} (starting offsets) and
// {"topic":[0,1]} (assign).
Result<Json> ParseJsonOption(const std::string& option, const std::string& v) {
  Json j = Json::parse(v, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.empty()) {
    return Status::InvalidArgument("read_kafka option `" + option + "` must be a JSON object such as " +
                                   (option == "assign" ? std::string("'{\"orders\":[0,1]}'")
                                                       : std::string("'{\"orders\":{\"0\":23,\"1\":-2}}'")) +
                                   ", not '" + v + "'");
  }
  return j;
}

Result<int32_t> PartitionNumber(const std::string& option, const Json& p) {
  int64_t n = -1;
  if (p.is_number_integer()) n = p.get<int64_t>();
  else if (p.is_string()) {
    auto parsed = ParseInt(option, p.get<std::string>(), 0);
    if (parsed.ok()) n = *parsed;
  }
  if (n < 0 || n > INT32_MAX) {
    return Status::InvalidArgument("read_kafka option `" + option + "`: partition " + p.dump() +
                                   " is not a partition number");
  }
  return static_cast<int32_t>(n);
}

// kafka.sasl.jaas.config of Java clients (Event Hubs: PlainLoginModule required
// username="$ConnectionString" password="Endpoint=sb://...";) -> librdkafka's
// sasl.username / sasl.password.
Status TranslateJaas(const std::string& jaas, std::map<std::string, std::string>* props) {
  if (jaas.find("PlainLoginModule") == std::string::npos) {
    return Status::NotSupported(
        "read_kafka option `kafka.sasl.jaas.config`: only a PlainLoginModule (SASL/PLAIN, as Event Hubs uses) is "
        "translated for librdkafka; for other mechanisms give kafka.sasl.username / kafka.sasl.password or "
        "kafka.sasl.oauthbearer.* directly");
  }
  auto field = [&](const std::string& name) -> std::optional<std::string> {
    std::regex re(name + "\\s*=\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    std::smatch m;
    if (!std::regex_search(jaas, m, re)) return std::nullopt;
    return m[1].str();
  };
  auto user = field("username"), password = field("password");
  if (!user || !password) {
    return Status::InvalidArgument(
        "read_kafka option `kafka.sasl.jaas.config`: a PlainLoginModule needs username=\"...\" and "
        "password=\"...\"");
  }
  (*props)["sasl.username"] = *user;
  (*props)["sasl.password"] = *password;
  return Status::OK();
}

const char kKnown[] =
    "bootstrapServers, subscribe, subscribePattern, assign, startingOffsets, startingTimestamp, "
    "maxOffsetsPerTrigger, failOnDataLoss, groupIdPrefix, includeHeaders, kafka.<librdkafka property>";

}  // namespace

std::string KafkaSourceOptions::Label() const {
  std::string what;
  switch (mode) {
    case Mode::kSubscribe:
      for (size_t i = 0; i < topics.size(); ++i) what += (i ? "," : "") + topics[i];
      break;
    case Mode::kSubscribePattern: what = "/" + pattern + "/"; break;
    case Mode::kAssign:
      for (const auto& [t, parts] : assign) {
        if (!what.empty()) what += ",";
        what += t + "[";
        for (size_t i = 0; i < parts.size(); ++i) what += (i ? "," : "") + std::to_string(parts[i]);
        what += "]";
      }
      break;
  }
  return bootstrap_servers + "/" + what;
}

Status CheckKafkaProperties(const std::map<std::string, std::string>& properties) {
  std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)> conf(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument("read_kafka option `kafka." + k + "`: " + err);
    }
  }
  return Status::OK();
}

Result<KafkaSourceOptions> ParseKafkaSourceOptions(const std::map<std::string, std::string>& options) {
  KafkaSourceOptions o;
  int modes = 0;
  bool have_start_offsets = false, have_start_ts = false;
  for (const auto& [key, raw] : options) {
    std::string v = Trim(raw);
    if (key.rfind("kafka.", 0) == 0) {
      std::string prop = key.substr(6);
      // What Spark refuses because the source manages it itself (docs/kafka.md).
      static const char* kManaged[] = {"auto.offset.reset", "enable.auto.commit", "key.deserializer",
                                       "value.deserializer", "interceptor.classes", "group.id"};
      for (const char* m : kManaged) {
        if (prop == m) {
          return Status::InvalidArgument("read_kafka option `" + key +
                                         "` is set by the source itself (offsets live in the flow's checkpoint; "
                                         "use startingOffsets / groupIdPrefix)");
        }
      }
      if (prop == "bootstrap.servers") {
        o.bootstrap_servers = v;
      } else if (prop == "sasl.jaas.config") {
        LP_RETURN_IF_ERROR(TranslateJaas(v, &o.properties));
      } else if (prop == "sasl.mechanism") {
        o.properties["sasl.mechanisms"] = v;
      } else {
        o.properties[prop] = v;
      }
    } else if (key == "bootstrapservers") {
      o.bootstrap_servers = v;
    } else if (key == "subscribe") {
      ++modes;
      o.mode = KafkaSourceOptions::Mode::kSubscribe;
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos) comma = v.size();
        std::string t = Trim(v.substr(pos, comma - pos));
        if (!t.empty()) o.topics.push_back(t);
        pos = comma + 1;
      }
      if (o.topics.empty()) return Status::InvalidArgument("read_kafka option `subscribe` names no topic");
    } else if (key == "subscribepattern") {
      ++modes;
      o.mode = KafkaSourceOptions::Mode::kSubscribePattern;
      o.pattern = v;
      try {
        std::regex re(v);
      } catch (const std::regex_error& e) {
        return Status::InvalidArgument("read_kafka option `subscribePattern`: not a regular expression: '" + v + "'");
      }
    } else if (key == "assign") {
      ++modes;
      o.mode = KafkaSourceOptions::Mode::kAssign;
      LP_ASSIGN_OR_RETURN(Json j, ParseJsonOption("assign", v));
      for (const auto& [topic, parts] : j.items()) {
        if (!parts.is_array() || parts.empty()) {
          return Status::InvalidArgument("read_kafka option `assign`: topic " + topic +
                                         " needs a non-empty list of partitions, e.g. {\"" + topic + "\":[0,1]}");
        }
        for (const auto& p : parts) {
          LP_ASSIGN_OR_RETURN(int32_t n, PartitionNumber("assign", p));
          o.assign[topic].push_back(n);
        }
      }
    } else if (key == "startingoffsets") {
      have_start_offsets = true;
      std::string l = Lower(v);
      if (l == "earliest") {
        o.starting = KafkaSourceOptions::Start::kEarliest;
      } else if (l == "latest") {
        o.starting = KafkaSourceOptions::Start::kLatest;
      } else {
        o.starting = KafkaSourceOptions::Start::kOffsets;
        LP_ASSIGN_OR_RETURN(Json j, ParseJsonOption("startingOffsets", v));
        for (const auto& [topic, parts] : j.items()) {
          if (!parts.is_object()) {
            return Status::InvalidArgument("read_kafka option `startingOffsets`: topic " + topic +
                                           " needs {\"partition\": offset, ...} (-2 earliest, -1 latest)");
          }
          for (const auto& [p, off] : parts.items()) {
            LP_ASSIGN_OR_RETURN(int32_t n, PartitionNumber("startingOffsets", Json(p)));
            if (!off.is_number_integer() || off.get<int64_t>() < -2) {
              return Status::InvalidArgument("read_kafka option `startingOffsets`: " + topic + " partition " + p +
                                             ": offset must be an integer >= 0, or -2 (earliest) / -1 (latest)");
            }
            o.starting_offsets[topic][n] = off.get<int64_t>();
          }
        }
      }
    } else if (key == "startingtimestamp") {
      have_start_ts = true;
      o.starting = KafkaSourceOptions::Start::kTimestamp;
      LP_ASSIGN_OR_RETURN(o.starting_timestamp_ms, ParseInt("startingTimestamp", v, 0));
    } else if (key == "maxoffsetspertrigger") {
      LP_ASSIGN_OR_RETURN(o.max_offsets_per_trigger, ParseInt("maxOffsetsPerTrigger", v, 1));
    } else if (key == "failondataloss") {
      LP_ASSIGN_OR_RETURN(o.fail_on_data_loss, ParseBool("failOnDataLoss", v));
    } else if (key == "groupidprefix") {
      if (v.empty()) return Status::InvalidArgument("read_kafka option `groupIdPrefix` is empty");
      o.group_id_prefix = v;
    } else if (key == "includeheaders") {
      // The headers column is always there; the option is accepted for compatibility.
      LP_ASSIGN_OR_RETURN(bool ignored, ParseBool("includeHeaders", v));
      (void)ignored;
    } else if (key == "endingoffsets" || key == "endingtimestamp" || key == "minpartitions" ||
               key == "maxtriggerdelay" || key == "minoffsetspertrigger" || key == "startingoffsetsbytimestamp" ||
               key == "startingoffsetsbytimestampstrategy" || key == "kafkaconsumer.polltimeoutms" ||
               key == "fetchoffset.numretries" || key == "fetchoffset.retryintervalms") {
      return Status::NotSupported("read_kafka option `" + key + "` is not built yet (supported: " + kKnown + ")");
    } else {
      return Status::InvalidArgument("read_kafka: unknown option `" + key + "` (supported: " + kKnown + ")");
    }
  }
  if (o.bootstrap_servers.empty()) {
    return Status::InvalidArgument("read_kafka needs bootstrapServers => 'host:port[,host:port]'");
  }
  if (modes != 1) {
    return Status::InvalidArgument("read_kafka needs exactly one of subscribe => 'topic[,topic]', "
                                   "subscribePattern => 'regex', assign => '{\"topic\":[0,1]}'" +
                                   std::string(modes > 1 ? " (several given)" : ""));
  }
  if (have_start_offsets && have_start_ts) {
    return Status::InvalidArgument("read_kafka: give startingOffsets or startingTimestamp, not both");
  }
  if (o.starting == KafkaSourceOptions::Start::kOffsets) {
    for (const auto& [topic, parts] : o.starting_offsets) {
      bool known = o.mode == KafkaSourceOptions::Mode::kSubscribePattern ||
                   (o.mode == KafkaSourceOptions::Mode::kSubscribe &&
                    std::find(o.topics.begin(), o.topics.end(), topic) != o.topics.end()) ||
                   (o.mode == KafkaSourceOptions::Mode::kAssign && o.assign.count(topic));
      if (!known) {
        return Status::InvalidArgument("read_kafka option `startingOffsets` names topic " + topic +
                                       ", which the source does not read");
      }
    }
  }
  o.properties["bootstrap.servers"] = o.bootstrap_servers;
  LP_RETURN_IF_ERROR(CheckKafkaProperties(o.properties));
  return o;
}

}  // namespace lakepipe::kafka
