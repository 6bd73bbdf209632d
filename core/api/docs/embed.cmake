# Compiles the /docs page's files into langgraph_core as byte arrays (docs_assets.hpp).
# Included from core/CMakeLists.txt after langgraph_core is defined; run again in script mode
# (cmake -P) by the build to write the generated source whenever one of the files changes.
set(docs_asset_files index.html app.js app.css)

if(CMAKE_SCRIPT_MODE_FILE)
  set(out "// Generated from core/api/docs by embed.cmake: do not edit.\n#include \"api/docs/docs_assets.hpp\"\n\nnamespace lgs::docs_assets {\nnamespace {\n")
  set(table "")
  set(i 0)
  foreach(name ${docs_asset_files})
    file(READ "${DOCS_DIR}/${name}" hex HEX)
    string(LENGTH "${hex}" hex_length)
    math(EXPR size "${hex_length} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    string(APPEND out "const unsigned char asset_${i}[] = {\n${bytes}0x00};\n")
    string(APPEND table "    {\"${name}\", asset_${i}, ${size}},\n")
    math(EXPR i "${i} + 1")
  endforeach()
  string(APPEND out "}  // namespace\n\nconst Asset kAssets[] = {\n${table}};\nconst std::size_t kCount = ${i};\n\n}  // namespace lgs::docs_assets\n")
  file(WRITE "${OUTPUT}.tmp" "${out}")
  file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
  file(REMOVE "${OUTPUT}.tmp")
  return()
endif()

set(docs_assets_cpp ${CMAKE_CURRENT_BINARY_DIR}/docs_assets.cpp)
list(TRANSFORM docs_asset_files PREPEND ${CMAKE_CURRENT_LIST_DIR}/ OUTPUT_VARIABLE docs_asset_paths)
add_custom_command(
  OUTPUT ${docs_assets_cpp}
  COMMAND ${CMAKE_COMMAND} -DDOCS_DIR=${CMAKE_CURRENT_LIST_DIR} -DOUTPUT=${docs_assets_cpp}
          -P ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
  DEPENDS ${docs_asset_paths} ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
  COMMENT "Embedding the /docs page"
  VERBATIM)
target_sources(langgraph_core PRIVATE ${docs_assets_cpp})
