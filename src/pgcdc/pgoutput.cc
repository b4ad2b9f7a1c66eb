#include "pgcdc/pgoutput.h"

#include <limits>

#include <cstdio>

namespace lakepipe::pgcdc {
namespace {

// A bounds-checked big-endian reader over one message.
class Reader {
 public:
  Reader(std::string_view bytes, const char* what) : b_(bytes), what_(what) {}
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ >= b_.size(); }

  uint64_t Int(int n) {
    if (!Need(static_cast<size_t>(n))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
    return v;
  }
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  // A NUL-terminated string.
  std::string CString() {
    if (!ok_) return {};
    size_t end = b_.find('\0', pos_);
    if (end == std::string_view::npos) {
      Fail();
      return {};
    }
    std::string s(b_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  std::string_view Bytes(size_t n) {
    if (!Need(n)) return {};
    std::string_view s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view Rest() {
    std::string_view s = ok_ ? b_.substr(pos_) : std::string_view();
    pos_ = b_.size();
    return s;
  }
  Status Error(const std::string& detail = "truncated") const {
    return Status::Corruption(std::string("pgoutput ") + what_ + " message: " + detail + " at byte " +
                              std::to_string(pos_) + " of " + std::to_string(b_.size()));
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) {
      Fail();
      return false;
    }
    return true;
  }
  void Fail() { ok_ = false; }
  std::string_view b_;
  const char* what_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// PostgreSQL writes 'infinity' as INT64_MAX; a time that would overflow saturates there.
int64_t FromPgTime(uint64_t t) {
  int64_t unix_micros;
  if (__builtin_add_overflow(static_cast<int64_t>(t), kPgEpochOffsetMicros, &unix_micros))
    return std::numeric_limits<int64_t>::max();
  return unix_micros;
}

bool ReadTuple(Reader& r, Tuple* out) {
  uint16_t n = r.U16();
  if (!r.ok()) return false;
  out->clear();
  out->reserve(n);
  for (uint16_t i = 0; i < n && r.ok(); ++i) {
    TupleValue v;
    char kind = static_cast<char>(r.U8());
    switch (kind) {
      case 'n':
        v.kind = TupleValue::kNull;
        break;
      case 'u':
        v.kind = TupleValue::kUnchangedToast;
        break;
      case 't':
      case 'b': {
        v.kind = kind == 't' ? TupleValue::kText : TupleValue::kBinary;
        uint32_t len = r.U32();
        v.data = std::string(r.Bytes(len));
        break;
      }
      default:
        return false;
    }
    out->push_back(std::move(v));
  }
  return r.ok();
}

const char* KindName(char k) {
  switch (k) {
    case 'B': return "Begin";
    case 'C': return "Commit";
    case 'O': return "Origin";
    case 'R': return "Relation";
    case 'Y': return "Type";
    case 'I': return "Insert";
    case 'U': return "Update";
    case 'D': return "Delete";
    case 'T': return "Truncate";
    case 'M': return "Message";
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    default: return "unknown";
  }
}

}  // namespace

std::string FormatLsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn & 0xffffffffu));
  return buf;
}

Result<Lsn> ParseLsn(std::string_view text) {
  size_t slash = text.find('/');
  auto hex = [](std::string_view s, uint64_t* v) {
    if (s.empty() || s.size() > 8) return false;
    *v = 0;
    for (char c : s) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      *v = (*v << 4) | static_cast<uint64_t>(d);
    }
    return true;
  };
  uint64_t hi = 0, lo = 0;
  if (slash == std::string_view::npos || !hex(text.substr(0, slash), &hi) || !hex(text.substr(slash + 1), &lo)) {
    return Status::InvalidArgument("not a PostgreSQL LSN (like 16/B374D848): " + std::string(text));
  }
  return (hi << 32) | lo;
}

Result<CopyMessage> DecodeCopyMessage(std::string_view bytes) {
  Reader r(bytes, "CopyData");
  CopyMessage m;
  char kind = static_cast<char>(r.U8());
  if (kind == 'w') {
    m.kind = CopyMessage::kXLogData;
    m.data.wal_start = r.U64();
    m.data.wal_end = r.U64();
    m.data.send_time_micros = FromPgTime(r.U64());
    m.data.payload = r.Rest();
  } else if (kind == 'k') {
    m.kind = CopyMessage::kKeepalive;
    m.keepalive.wal_end = r.U64();
    m.keepalive.send_time_micros = FromPgTime(r.U64());
    m.keepalive.reply_requested = r.U8() != 0;
  } else {
    return Status::Corruption("replication stream: unknown CopyData message '" + std::string(1, kind) + "'");
  }
  if (!r.ok()) return r.Error();
  return m;
}

std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, int64_t now_unix_micros, bool reply) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  auto put = [&out](uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(written);
  put(flushed);
  put(applied);
  put(static_cast<uint64_t>(now_unix_micros - kPgEpochOffsetMicros));
  out.push_back(reply ? 1 : 0);
  return out;
}

Result<PgOutputMessage> DecodePgOutput(std::string_view bytes, bool in_stream) {
  if (bytes.empty()) return Status::Corruption("pgoutput: empty message");
  char kind = bytes[0];
  Reader r(bytes.substr(1), KindName(kind));
  PgOutputMessage m;
  m.kind = static_cast<PgOutputMessage::Kind>(kind);
  auto stream_xid = [&] {
    if (in_stream) m.xid = r.U32();
  };
  switch (kind) {
    case 'B':
      m.final_lsn = r.U64();
      m.timestamp_micros = FromPgTime(r.U64());
      m.xid = r.U32();
      break;
    case 'C':
      r.U8();  // flags, unused
      m.commit_lsn = r.U64();
      m.end_lsn = r.U64();
      m.timestamp_micros = FromPgTime(r.U64());
      break;
    case 'O':
      m.commit_lsn = r.U64();
      m.relname = r.CString();
      break;
    case 'R': {
      stream_xid();
      m.relation_oid = r.U32();
      m.nspname = r.CString();
      m.relname = r.CString();
      m.replica_identity = static_cast<char>(r.U8());
      uint16_t n = r.U16();
      for (uint16_t i = 0; i < n && r.ok(); ++i) {
        RelationColumn c;
        c.is_key = (r.U8() & 1) != 0;
        c.name = r.CString();
        c.type_oid = r.U32();
        c.type_modifier = static_cast<int32_t>(r.U32());
        m.columns.push_back(std::move(c));
      }
      break;
    }
    case 'Y':
      stream_xid();
      m.relation_oid = r.U32();  // the type's oid
      m.nspname = r.CString();
      m.relname = r.CString();
      break;
    case 'I': {
      stream_xid();
      m.relation_oid = r.U32();
      if (r.U8() != 'N' && r.ok()) return r.Error("expected 'N' (new tuple)");
      if (!ReadTuple(r, &m.new_tuple)) return r.Error("bad tuple");
      break;
    }
    case 'U': {
      stream_xid();
      m.relation_oid = r.U32();
      char t = static_cast<char>(r.U8());
      if (t == 'K' || t == 'O') {
        m.old_kind = t;
        if (!ReadTuple(r, &m.old_tuple)) return r.Error("bad old tuple");
        t = static_cast<char>(r.U8());
      }
      if (t != 'N' && r.ok()) return r.Error("expected 'N' (new tuple)");
      if (!ReadTuple(r, &m.new_tuple)) return r.Error("bad new tuple");
      break;
    }
    case 'D': {
      stream_xid();
      m.relation_oid = r.U32();
      char t = static_cast<char>(r.U8());
      if (t != 'K' && t != 'O' && r.ok()) return r.Error("expected 'K' or 'O' (old tuple)");
      m.old_kind = t;
      if (!ReadTuple(r, &m.old_tuple)) return r.Error("bad old tuple");
      break;
    }
    case 'T': {
      stream_xid();
      uint32_t n = r.U32();
      uint8_t options = r.U8();
      m.cascade = (options & 1) != 0;
      m.restart_identity = (options & 2) != 0;
      for (uint32_t i = 0; i < n && r.ok(); ++i) m.truncated.push_back(r.U32());
      break;
    }
    case 'M': {
      stream_xid();
      r.U8();  // flags (1: transactional)
      m.commit_lsn = r.U64();
      m.prefix = r.CString();
      uint32_t len = r.U32();
      m.content = std::string(r.Bytes(len));
      break;
    }
    case 'S':
      m.xid = r.U32();
      r.U8();  // first segment of this transaction
      break;
    case 'E':
      break;
    case 'c':
      m.xid = r.U32();
      r.U8();
      m.commit_lsn = r.U64();
      m.end_lsn = r.U64();
      m.timestamp_micros = FromPgTime(r.U64());
      break;
    case 'A':
      m.xid = r.U32();
      r.U32();  // subtransaction xid
      break;
    default:
      return Status::Corruption("pgoutput: unknown message type '" + std::string(1, kind) + "'");
  }
  if (!r.ok()) return r.Error();
  return m;
}

}  // namespace lakepipe::pgcdc
