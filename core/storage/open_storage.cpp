#include <filesystem>

#include "config/startup_error.hpp"
#include "storage/memory_storage.hpp"
#include "storage/postgres_storage.hpp"
#include "storage/sqlite_storage.hpp"
#include "storage/storage.hpp"

namespace lgs {

namespace {

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

std::unique_ptr<Storage> open_storage(const std::string& uri, const std::string& data_dir) {
  if (uri == ":memory:") return std::make_unique<MemoryStorage>();
  if (starts_with(uri, "postgres://") || starts_with(uri, "postgresql://") || uri.find('=') != std::string::npos)
    return std::make_unique<PostgresStorage>(uri);
  std::filesystem::path file;
  if (uri.empty()) {
    file = std::filesystem::path(data_dir) / "langgraph.sqlite";
  } else if (starts_with(uri, "sqlite://")) {
    file = uri.substr(std::string_view("sqlite://").size());
  } else if (starts_with(uri, "sqlite:")) {
    file = uri.substr(std::string_view("sqlite:").size());
  } else {
    throw StartupError("database URI \"" + uri +
                       "\" is not understood: use postgres://..., sqlite:PATH or :memory:");
  }
  if (file.empty()) throw StartupError("database URI \"" + uri + "\" names no file");
  std::error_code error;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
  if (error)
    throw StartupError("cannot create the data folder " + file.parent_path().string() + ": " + error.message());
  return std::make_unique<SqliteStorage>(file);
}

}  // namespace lgs
