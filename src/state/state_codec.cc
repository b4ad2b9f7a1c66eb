#include "state/state_codec.h"

#include "common/fs.h"
#include "formats/parquet/parquet.h"

namespace lakepipe::state {

namespace {

// A FileSystem holding the one file the Parquet writer creates, in memory: the writer
// only creates, appends to, syncs and closes its file.
class BufferFileSystem : public FileSystem {
 public:
  std::string data;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string&, CreateMode) override {
    data.clear();
    return std::unique_ptr<WritableFile>(new File(&data));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return Unsupported(path);
  }
  Status Rename(const std::string& from, const std::string&) override { return Unsupported(from); }
  Status Link(const std::string& from, const std::string&) override { return Unsupported(from); }
  Status SyncDir(const std::string& dir) override { return Unsupported(dir); }
  Status RemoveFile(const std::string& path) override { return Unsupported(path); }
  Status CreateDirs(const std::string& path) override { return Unsupported(path); }
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override { return Unsupported(dir); }
  Result<FileInfo> Stat(const std::string& path) override { return Unsupported(path); }

 private:
  class File : public WritableFile {
   public:
    explicit File(std::string* out) : out_(out) {}
    Status Append(std::string_view d) override {
      out_->append(d);
      return Status::OK();
    }
    Status Sync() override { return Status::OK(); }
    Status Close() override { return Status::OK(); }
    int64_t Size() const override { return static_cast<int64_t>(out_->size()); }

   private:
    std::string* out_;
  };
  static Status Unsupported(const std::string& path) {
    return Status::NotSupported("the in-memory state buffer only creates one file (asked about " + path + ")");
  }
};

}  // namespace

Result<std::string> SerializeState(const RecordBatch& state, const Schema& schema, const std::string& created_by) {
  if (state.num_rows() == 0) return std::string();
  Schema positional;
  for (size_t i = 0; i < schema.size(); ++i) {
    positional.AddField(Field{"c" + std::to_string(i), schema.field(i).type, schema.field(i).nullable});
  }
  BufferFileSystem buffer;
  parquet::WriteOptions options;
  options.created_by = created_by;
  LP_ASSIGN_OR_RETURN(auto writer, parquet::FileWriter::Open(&buffer, "state.parquet", positional, options));
  LP_RETURN_IF_ERROR(writer->Write(RecordBatch(positional, state.columns(), state.num_rows())));
  LP_RETURN_IF_ERROR(writer->Close().status());
  return std::move(buffer.data);
}

Result<RecordBatch> DeserializeState(std::string data, const Schema& schema, const std::string& what) {
  if (data.empty()) return RecordBatch::Empty(schema);
  LP_ASSIGN_OR_RETURN(auto reader, parquet::FileReader::OpenBuffer(std::move(data), what));
  LP_ASSIGN_OR_RETURN(RecordBatch batch, reader->ReadAll());
  if (batch.num_columns() != schema.size()) {
    return Status::Corruption(what + " has " + std::to_string(batch.num_columns()) + " columns, expected " +
                              std::to_string(schema.size()));
  }
  for (size_t i = 0; i < schema.size(); ++i) {
    if (batch.column(i).type() != schema.field(i).type) {
      return Status::Corruption(what + ": column " + std::to_string(i) + " reads back as " +
                                batch.column(i).type().ToString() + ", expected " + schema.field(i).type.ToString());
    }
  }
  return RecordBatch(schema, batch.columns(), batch.num_rows());
}

}  // namespace lakepipe::state
