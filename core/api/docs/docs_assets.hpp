// The files of core/api/docs/ (the /docs page, its script and style sheet), compiled into the
// binary by embed.cmake so that /docs needs nothing at run time.
#pragma once

#include <cstddef>

namespace lgs::docs_assets {

struct Asset {
  const char* name;  // file name, e.g. "app.js"
  const unsigned char* data;
  std::size_t size;
};

extern const Asset kAssets[];
extern const std::size_t kCount;

}  // namespace lgs::docs_assets
