#include <filesystem>
#include <regex>

#include "config/startup_error.hpp"
#include "storage/memory_storage.hpp"
#include "storage/postgres_storage.hpp"
#include "storage/sqlite_storage.hpp"
#include "storage/storage.hpp"

namespace lgs {

namespace {

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

bool is_postgres(const std::string& uri) {
  return starts_with(uri, "postgres://") || starts_with(uri, "postgresql://") || uri.find('=') != std::string::npos;
}

std::filesystem::path sqlite_file(const std::string& uri, const std::string& data_dir) {
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
  return file;
}

}  // namespace

std::string describe_database(const std::string& uri, const std::string& data_dir) {
  if (uri == ":memory:") return "memory (gone when the server stops)";
  if (is_postgres(uri)) {
    // postgres://user:secret@host/db and password=secret lose the secret.
    static const std::regex uri_password(R"(^(postgres(?:ql)?://[^:/@]*:)[^@]*@)");
    static const std::regex keyword_password(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+))");
    std::string shown = std::regex_replace(uri, uri_password, "$1***@");
    shown = std::regex_replace(shown, keyword_password, "$1***");
    return "PostgreSQL " + shown;
  }
  return "SQLite " + std::filesystem::absolute(sqlite_file(uri, data_dir)).lexically_normal().string();
}

std::unique_ptr<Storage> open_storage(const std::string& uri, const std::string& data_dir) {
  if (uri == ":memory:") return std::make_unique<MemoryStorage>();
  if (is_postgres(uri)) return std::make_unique<PostgresStorage>(uri);
  const std::filesystem::path file = sqlite_file(uri, data_dir);
  std::error_code error;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
  if (error)
    throw StartupError("cannot create the data folder " + file.parent_path().string() + ": " + error.message());
  return std::make_unique<SqliteStorage>(file);
}

}  // namespace lgs
