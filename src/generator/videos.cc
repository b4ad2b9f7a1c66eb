#include "generator/videos.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "generator/random.h"
#include "types/datetime.h"

namespace lakepipe::generator {
namespace {

struct Network {
  const char* name;
  const char* id_prefix;
  double views_per_observation;  // typical new views between two observations of a fresh post
  int max_duration_seconds;
};
constexpr Network kNetworks[] = {
    {"YouTube", "yt", 420, 1800}, {"Instagram", "ig", 520, 90}, {"TikTok", "tt", 950, 60},
    {"Facebook", "fb", 160, 600},  {"LinkedIn", "li", 70, 300},  {"X", "x", 130, 140},
};

struct City {
  const char* name;
  const char* state;
};
constexpr City kCities[] = {
    {"São Paulo", "SP"},    {"Rio de Janeiro", "RJ"}, {"Belo Horizonte", "MG"}, {"Porto Alegre", "RS"},
    {"Curitiba", "PR"},     {"Salvador", "BA"},       {"Recife", "PE"},         {"Fortaleza", "CE"},
    {"Brasília", "DF"},     {"Manaus", "AM"},         {"Belém", "PA"},          {"Goiânia", "GO"},
    {"Florianópolis", "SC"}, {"Vitória", "ES"},       {"Natal", "RN"},          {"João Pessoa", "PB"},
    {"Maceió", "AL"},       {"Teresina", "PI"},       {"Campinas", "SP"},       {"São Luís", "MA"},
};

struct Kind {
  const char* prefix;
  const char* category;
};
constexpr Kind kKinds[] = {
    {"Universidade Federal", "public_university"}, {"Universidade Estadual", "public_university"},
    {"Faculdade", "college"},                      {"Centro Universitário", "private_university"},
    {"Instituto Federal", "institute"},            {"Escola Técnica", "technical_school"},
};

constexpr const char* kNameParts[] = {"Horizonte", "Aurora",   "Atlântico", "Vale Verde", "Santa Clara",
                                      "Dom Bosco", "Paulista", "do Sertão", "Nova Era",   "Saber",
                                      "Integração", "Ipê",     "Araucária", "Maré Alta",  "Cerrado"};
constexpr const char* kHashtags[] = {"#vestibular", "#enem",   "#campus",     "#pesquisa", "#ciência",
                                     "#formatura",  "#educação", "#inovação", "#esporte",  "#cultura",
                                     "#extensão",   "#bolsas", "#intercâmbio", "#tecnologia", "#saúde"};
constexpr const char* kTitleStarts[] = {"Aula aberta:", "Tour pelo campus:", "Entrevista:", "Bastidores:",
                                        "Dica rápida:", "Ao vivo:", "Resumo:", "Conheça"};
constexpr const char* kTopics[] = {"o novo laboratório", "a feira de ciências", "o processo seletivo",
                                   "nossos alunos premiados", "o curso de engenharia", "a semana acadêmica",
                                   "o projeto de extensão", "a biblioteca", "o time de robótica", "a formatura"};
constexpr const char* kDevices[] = {"mobile", "desktop", "tv", "tablet"};

constexpr int kInstitutions = 300;
constexpr int kObservedDays = 30;          // a post is observed for this many days after its creation
constexpr double kObservedChance = 0.85;   // per post and batch
constexpr double kLateChance = 0.02;
constexpr double kRedeliveryChance = 0.01;
constexpr double kMalformedChance = 0.003;

struct Institution {
  int id;
  std::string name;
  const char* category;
  const City* city;
};

struct Post {
  int64_t number;
  int network;
  int institution;
  int64_t created_micros;
  double quality;  // scales its views
  int64_t views = 0, likes = 0, comments = 0, shares = 0;
};

// One event, rendered.
struct Event {
  int64_t micros;
  int64_t order;  // creation order, a tie-break that keeps the output deterministic
  std::string line;
};

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Padded(int64_t n, int width) {
  std::string s = std::to_string(n);
  return std::string(s.size() < static_cast<size_t>(width) ? width - s.size() : 0, '0') + s;
}

std::vector<Institution> MakeInstitutions() {
  // Distinct (kind, name part, city) triples: 7919 is prime to the number of triples.
  constexpr int kKindsN = sizeof(kKinds) / sizeof(kKinds[0]);
  constexpr int kPartsN = sizeof(kNameParts) / sizeof(kNameParts[0]);
  constexpr int kCitiesN = sizeof(kCities) / sizeof(kCities[0]);
  constexpr int kTriples = kKindsN * kPartsN * kCitiesN;
  std::vector<Institution> out;
  for (int i = 0; i < kInstitutions; ++i) {
    int t = static_cast<int>((static_cast<int64_t>(i) * 7919 + 11) % kTriples);
    const Kind& kind = kKinds[t % kKindsN];
    const char* part = kNameParts[(t / kKindsN) % kPartsN];
    const City& city = kCities[t / (kKindsN * kPartsN)];
    out.push_back({i + 1, std::string(kind.prefix) + " " + part + " de " + city.name, kind.category, &city});
  }
  return out;
}

std::string InstitutionJson(const Institution& in) {
  return "{\"id\":" + std::to_string(in.id) + ",\"name\":" + JsonString(in.name) + ",\"category\":" +
         JsonString(in.category) + ",\"city\":{\"name\":" + JsonString(in.city->name) + ",\"state\":" +
         JsonString(in.city->state) + "}}";
}

std::string Timestamp(int64_t micros) {
  // FormatTimestampIso: "2026-01-01T07:42:13.123Z", what Auto Loader users get from most feeds.
  return FormatTimestampIso(micros);
}

class VideoFeed {
 public:
  VideoFeed(const VideoOptions& o, int32_t start_day) : o_(o), start_day_(start_day), rng_(o.seed), institutions_(MakeInstitutions()) {}

  int BatchCount() const { return o_.days * o_.batches_per_day; }
  int64_t BatchMicros(int b) const {
    int day = b / o_.batches_per_day, i = b % o_.batches_per_day;
    int hour = o_.batches_per_day == 1 ? 8 : 8 + i * 12 / (o_.batches_per_day - 1);
    return (static_cast<int64_t>(start_day_) + day) * kMicrosPerDay + hour * 3600 * kMicrosPerSecond;
  }
  std::string FileName(int b) const {
    int64_t micros = BatchMicros(b);
    int64_t hour = (micros % kMicrosPerDay) / (3600 * kMicrosPerSecond);
    return "videos_" + FormatDate(static_cast<int32_t>(micros / kMicrosPerDay)) + "T" + Padded(hour, 2) + ".json";
  }

  // The lines of batch b, in order; b goes 0, 1, 2, ...
  std::vector<std::string> Batch(int b, VideoStats* stats) {
    const int64_t window_end = BatchMicros(b);
    const int64_t window_start = b == 0 ? static_cast<int64_t>(start_day_) * kMicrosPerDay : BatchMicros(b - 1);
    const int day = b / o_.batches_per_day;  // 0-based
    std::vector<Event> events;
    // Observations of the posts created before this window.
    for (Post& p : posts_) {
      if (p.created_micros > window_start - 1) continue;
      if (window_start - p.created_micros > kObservedDays * kMicrosPerDay) continue;
      if (!rng_.Chance(kObservedChance)) continue;
      int64_t at = window_start + 1 + static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(window_end - window_start)));
      events.push_back({at, next_order_++, Observation(p, at)});
      ++stats->observations;
    }
    // Posts created in this window (a day's posts are drawn when its first batch starts).
    while (drawn_days_ <= day) DrawPosts(drawn_days_++);
    for (const Post& p : new_posts_) {
      if (p.created_micros > window_start && p.created_micros <= window_end) {
        events.push_back({p.created_micros, next_order_++, Creation(p)});
        ++stats->posts;
      }
    }
    std::vector<Post> kept;
    for (Post& p : new_posts_) {
      if (p.created_micros <= window_end) {
        posts_.push_back(p);
      } else {
        kept.push_back(p);
      }
    }
    new_posts_ = std::move(kept);
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return a.micros != b.micros ? a.micros < b.micros : a.order < b.order;
    });

    // Deliveries owed to this batch (late events, re-deliveries) come first.
    std::vector<std::string> lines = std::move(owed_[b]);
    owed_.erase(b);
    for (Event& e : events) {
      if (rng_.Chance(kMalformedChance)) {
        e.line = Malformed(e.line);
        ++stats->malformed;
      }
      if (rng_.Chance(kLateChance) && b + 1 < BatchCount()) {
        int later = b + 1 + static_cast<int>(rng_.Below(3));
        owed_[std::min(later, BatchCount() - 1)].push_back(e.line);
        ++stats->late;
        continue;
      }
      if (rng_.Chance(kRedeliveryChance) && b + 1 < BatchCount()) {
        owed_[b + 1].push_back(e.line);
        ++stats->redelivered;
      }
      lines.push_back(std::move(e.line));
    }
    return lines;
  }

 private:
  void DrawPosts(int day) {
    int64_t day_start = (static_cast<int64_t>(start_day_) + day) * kMicrosPerDay;
    std::vector<Post> drawn;
    for (int i = 0; i < o_.posts_per_day; ++i) {
      Post p;
      p.network = static_cast<int>(rng_.Below(sizeof(kNetworks) / sizeof(kNetworks[0])));
      // A few institutions post much more than the rest.
      double u = rng_.Uniform();
      p.institution = static_cast<int>(u * u * kInstitutions);
      p.created_micros = day_start + static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(kMicrosPerDay / 1000))) * 1000;
      double q = rng_.Uniform();
      p.quality = 0.2 + 3.0 * q * q * q;
      drawn.push_back(p);
    }
    std::sort(drawn.begin(), drawn.end(), [](const Post& a, const Post& b) { return a.created_micros < b.created_micros; });
    for (Post& p : drawn) {
      p.number = ++post_count_;
      new_posts_.push_back(p);
    }
  }

  std::string Head(const char* event_id_prefix, int64_t id, int id_width, const char* type, int64_t at, int network) {
    std::string s = "{\"event_id\":\"" + std::string(event_id_prefix) + Padded(id, id_width) + "\",\"event_type\":\"" +
                    type + "\",\"event_time\":\"" + Timestamp(at) + "\",\"network\":" + JsonString(kNetworks[network].name);
    // The new field comes with the events of that day on (by event time, as a source
    // system that started sending it at midnight would).
    if (o_.new_field_day > 0 && at >= (static_cast<int64_t>(start_day_) + o_.new_field_day - 1) * kMicrosPerDay) {
      s += ",\"device\":" + JsonString(kDevices[rng_.Below(sizeof(kDevices) / sizeof(kDevices[0]))]);
    }
    return s;
  }

  std::string PostId(const Post& p) const { return std::string(kNetworks[p.network].id_prefix) + "-" + Padded(p.number, 8); }

  std::string Creation(const Post& p) {
    const Network& net = kNetworks[p.network];
    std::string s = Head("p-", p.number, 8, "post_created", p.created_micros, p.network);
    std::string title = std::string(kTitleStarts[rng_.Below(sizeof(kTitleStarts) / sizeof(kTitleStarts[0]))]) + " " +
                        kTopics[rng_.Below(sizeof(kTopics) / sizeof(kTopics[0]))];
    s += ",\"post\":{\"id\":\"" + PostId(p) + "\",\"title\":" + JsonString(title) +
         ",\"duration_seconds\":" + std::to_string(5 + rng_.Below(static_cast<uint64_t>(net.max_duration_seconds))) +
         ",\"hashtags\":[";
    int tags = static_cast<int>(rng_.Below(5));
    for (int i = 0; i < tags; ++i) {
      if (i) s += ",";
      s += JsonString(kHashtags[rng_.Below(sizeof(kHashtags) / sizeof(kHashtags[0]))]);
    }
    s += "],\"institution\":" + InstitutionJson(institutions_[p.institution]) + "}}";
    return s;
  }

  std::string Observation(Post& p, int64_t at) {
    double age_days = static_cast<double>(at - p.created_micros) / static_cast<double>(kMicrosPerDay);
    double decay = std::exp(-age_days / 4.0) + 0.02;
    int64_t views = std::llround(kNetworks[p.network].views_per_observation * p.quality * decay * (0.3 + 1.4 * rng_.Uniform()));
    p.views += views;
    p.likes += std::llround(static_cast<double>(views) * (0.02 + 0.06 * rng_.Uniform()));
    p.comments += std::llround(static_cast<double>(views) * 0.005 * rng_.Uniform() * 2);
    p.shares += std::llround(static_cast<double>(views) * 0.003 * rng_.Uniform() * 2);
    std::string s = Head("v-", ++observation_count_, 9, "views_observed", at, p.network);
    s += ",\"post\":{\"id\":\"" + PostId(p) + "\",\"institution\":{\"id\":" + std::to_string(institutions_[p.institution].id) +
         "}},\"metrics\":{\"views\":" + std::to_string(p.views) + ",\"likes\":" + std::to_string(p.likes) +
         ",\"comments\":" + std::to_string(p.comments) + ",\"shares\":" + std::to_string(p.shares) + "}}";
    return s;
  }

  // Half cut short (not JSON), half with a number written as text (JSON, wrong type).
  std::string Malformed(const std::string& line) {
    if (rng_.Chance(0.5)) return line.substr(0, line.size() / 2 + rng_.Below(line.size() / 3));
    for (const char* field : {"\"views\":", "\"duration_seconds\":"}) {
      size_t at = line.find(field);
      if (at == std::string::npos) continue;
      size_t begin = at + std::string(field).size();
      size_t end = line.find_first_of(",}", begin);
      return line.substr(0, begin) + "\"n/a\"" + line.substr(end);
    }
    return line.substr(0, line.size() / 2);
  }

  VideoOptions o_;
  int32_t start_day_;
  Random rng_;
  std::vector<Institution> institutions_;
  std::vector<Post> posts_;      // created and delivered, still observed or not
  std::vector<Post> new_posts_;  // drawn, not yet in a window
  int drawn_days_ = 0;
  int64_t post_count_ = 0;
  int64_t observation_count_ = 0;
  int64_t next_order_ = 0;
  std::map<int, std::vector<std::string>> owed_;  // batch -> lines delivered late or again
};

}  // namespace

Status GenerateVideos(FileSystem* fs, const VideoOptions& o, const std::string& out_dir, VideoStats* stats) {
  if (o.days < 1) return Status::InvalidArgument("generate videos: --days must be >= 1, got " + std::to_string(o.days));
  if (o.batches_per_day < 1 || o.batches_per_day > 12) {
    return Status::InvalidArgument("generate videos: --batches-per-day must be 1..12, got " +
                                   std::to_string(o.batches_per_day));
  }
  if (o.posts_per_day < 0) {
    return Status::InvalidArgument("generate videos: --posts-per-day must be >= 0, got " + std::to_string(o.posts_per_day));
  }
  if (o.new_field_day < 0) {
    return Status::InvalidArgument("generate videos: --new-field-day must be >= 0, got " + std::to_string(o.new_field_day));
  }
  auto start = ParseDate(o.start_date);
  if (!start.ok()) return Status::InvalidArgument("generate videos: --start " + o.start_date + ": " + start.status().message());
  LP_RETURN_IF_ERROR(fs->CreateDirs(out_dir));
  VideoStats local;
  VideoStats* s = stats ? stats : &local;
  *s = VideoStats{};
  VideoFeed feed(o, *start);
  for (int b = 0; b < feed.BatchCount(); ++b) {
    std::string data;
    for (const std::string& line : feed.Batch(b, s)) {
      data += line;
      data += '\n';
      ++s->lines;
    }
    LP_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(out_dir, feed.FileName(b)), data));
    ++s->files;
    s->bytes += static_cast<int64_t>(data.size());
  }
  return Status::OK();
}

}  // namespace lakepipe::generator
