// Writing API responses: JSON bodies and {"detail": ...} errors, FastAPI style.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/message.hpp"

namespace lgs {

using json = nlohmann::json;

// Thrown by API handlers for a client-visible error; the dispatcher turns it into a response.
struct ApiError {
  int status;
  std::string detail;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

const char* reason_phrase(int status);

void send_json(HttpResponse& res, int status, const json& body);
// {"detail": detail}; an empty detail becomes the status's reason phrase.
void send_error(HttpResponse& res, int status, const std::string& detail,
                const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace lgs
