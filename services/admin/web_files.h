// The UI's files (services/admin/web/), built into the binary: CMake turns them into a generated
// web_files.cpp (cmake/EmbedFiles.cmake), so even-admin needs no file at run time.
#pragma once

#include <cstddef>
#include <string_view>

namespace even::admin {

struct WebFile {
  std::string_view path;  // "/app.js": the file's name under web/, with a leading slash
  std::string_view body;
};

// Every file of web/, in the generated table; valid for the life of the program.
const WebFile* web_files_begin();
const WebFile* web_files_end();

}  // namespace even::admin
