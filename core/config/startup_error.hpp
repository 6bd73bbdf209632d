#pragma once

#include <stdexcept>
#include <string>

namespace lgs {

// A mistake that stops the server before it serves: main prints what() as one line and exits 2.
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lgs
