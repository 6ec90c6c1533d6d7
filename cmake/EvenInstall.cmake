# Install rules and the Debian package (included last by the top-level CMakeLists.txt).
#
#   cmake --install build [--prefix P]   programs in P/bin; the client library, its headers and
#                                        the CMake package (find_package(Even), Even::client) in
#                                        P/lib, P/include, P/lib/cmake/Even; units, config and
#                                        examples in P/lib/systemd/system, P/etc/even, P/share/doc/even
#   cpack -G DEB (in the build folder)   even_<version>_<arch>.deb: the same with prefix /usr, units
#                                        in /lib/systemd/system, the config in /etc/even (conffile),
#                                        a postinst that creates the system user `even`
#
# Components: runtime (programs), dev (library, headers, CMake package), service (units, config,
# examples, docs). What a library installs is derived from the target itself (see
# even_install_library), so a change of targets or include folders needs no change here beyond
# the list of exported targets below.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EVEN_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Even)

# even_install_library(TARGET EXPORT_NAME): installs a library target into the Even export set as
# Even::<EXPORT_NAME>, with every public include folder of the target that lies in the source or
# build tree (their headers go to include/; folders outside, e.g. /usr/include, are the
# dependencies' own). The target's include folders are rewritten as BUILD_INTERFACE, plus
# include/ when installed. Call it after the target's last target_include_directories().
function(even_install_library target export_name)
  get_target_property(type ${target} TYPE)
  get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(rewritten "")
  if(dirs)
    foreach(dir IN LISTS dirs)
      if(dir MATCHES "^\\$<")  # already a generator expression: keep it as it is
        list(APPEND rewritten "${dir}")
        continue()
      endif()
      list(APPEND rewritten "$<BUILD_INTERFACE:${dir}>")
      cmake_path(IS_PREFIX CMAKE_SOURCE_DIR "${dir}" in_source)
      cmake_path(IS_PREFIX CMAKE_BINARY_DIR "${dir}" in_build)
      if(in_source OR in_build)
        install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
                FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp"
                PATTERN "CMakeFiles" EXCLUDE
                # Services only (needs libsystemd); not part of what applications link.
                PATTERN "service_notify.h" EXCLUDE)
      endif()
    endforeach()
  endif()
  list(APPEND rewritten "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${rewritten}" EXPORT_NAME ${export_name})
  if(type STREQUAL "INTERFACE_LIBRARY")
    install(TARGETS ${target} EXPORT EvenTargets COMPONENT dev)
  else()
    install(TARGETS ${target} EXPORT EvenTargets
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
  endif()
endfunction()

# --- the client library and what it links ------------------------------------------------------
# Even::client is a static library, so every library of this project it links is installed and
# exported with it (as Even::<name without even_>): the closure of its link interface, whatever the
# targets are called today. The imported targets it reaches (Cap'n Proto, ZeroMQ, ...) become the
# find_dependency() calls of EvenConfig.cmake, from the table below.
set(EVEN_DEPENDENCY_FINDERS
  "Threads::=find_dependency(Threads)"
  "CapnProto::=find_dependency(CapnProto)"
  "spdlog::=find_dependency(spdlog)"
  "fmt::=find_dependency(fmt)"
  "Boost::program_options=find_dependency(Boost COMPONENTS program_options)"
  "nlohmann_json::=find_dependency(nlohmann_json)"
  "PkgConfig::ZMQ=find_dependency(PkgConfig)\nif(NOT TARGET PkgConfig::ZMQ)\n  pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)\nendif()")

# even_link_closure(OUT_TARGETS OUT_IMPORTED TARGET): the project's libraries TARGET links (itself
# included) and the imported targets they link, following the link interface.
function(even_link_closure out_targets out_imported target)
  set(todo ${target})
  set(seen "")
  set(imported "")
  while(todo)
    list(POP_FRONT todo t)
    get_target_property(aliased ${t} ALIASED_TARGET)
    if(aliased)
      set(t ${aliased})
    endif()
    if(t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(libs ${t} INTERFACE_LINK_LIBRARIES)
    if(NOT libs)
      continue()
    endif()
    foreach(lib IN LISTS libs)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
      if(lib MATCHES "^\\$<" OR NOT TARGET ${lib})
        continue()  # a path, a flag or another generator expression: nothing to export
      endif()
      get_target_property(is_imported ${lib} IMPORTED)
      if(is_imported)
        list(APPEND imported ${lib})
      else()
        list(APPEND todo ${lib})
      endif()
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES imported)
  set(${out_targets} ${seen} PARENT_SCOPE)
  set(${out_imported} ${imported} PARENT_SCOPE)
endfunction()

# The installed MySQL Connector/C++ is linked by name (found on the linker's default path).
set_target_properties(even_mysqlcppconn PROPERTIES
  INTERFACE_LINK_LIBRARIES "$<BUILD_INTERFACE:${MYSQLCPPCONN_LIB}>;$<INSTALL_INTERFACE:mysqlcppconn>")
even_link_closure(EVEN_EXPORTED_TARGETS EVEN_IMPORTED_DEPENDENCIES even_client)
foreach(target IN LISTS EVEN_EXPORTED_TARGETS)
  string(REGEX REPLACE "^even_" "" name ${target})
  even_install_library(${target} ${name})
  add_library(Even::${name} ALIAS ${target})
endforeach()
set(EVEN_FIND_DEPENDENCIES "")
foreach(dep IN LISTS EVEN_IMPORTED_DEPENDENCIES)
  set(found "")
  foreach(entry IN LISTS EVEN_DEPENDENCY_FINDERS)
    string(FIND "${entry}" "=" at)
    string(SUBSTRING "${entry}" 0 ${at} prefix)
    math(EXPR at "${at} + 1")
    string(SUBSTRING "${entry}" ${at} -1 finder)
    string(FIND "${dep}" "${prefix}" match)
    if(match EQUAL 0)
      set(found "${finder}")
      break()
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "Even::client links ${dep}: add how to find it to EVEN_DEPENDENCY_FINDERS (cmake/EvenInstall.cmake)")
  endif()
  string(FIND "${EVEN_FIND_DEPENDENCIES}" "${found}" already)
  if(already EQUAL -1)
    string(APPEND EVEN_FIND_DEPENDENCIES "${found}\n")
  endif()
endforeach()

install(EXPORT EvenTargets NAMESPACE Even:: DESTINATION ${EVEN_CMAKE_INSTALL_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/EvenConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/EvenConfig.cmake INSTALL_DESTINATION ${EVEN_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/EvenConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/EvenConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/EvenConfigVersion.cmake
        DESTINATION ${EVEN_CMAKE_INSTALL_DIR} COMPONENT dev)

# --- programs ------------------------------------------------------------------------------------
foreach(program IN ITEMS even-writer even-reader even-dispatcher even-projector even-groups even-server even-admin evenctl even-bench)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()

# --- units, configuration, examples, docs -------------------------------------------------------
# Where systemd and /etc expect them: with the prefix /usr (the Debian package) /lib/systemd/system
# and /etc; with any other prefix under it, so `cmake --install --prefix DIR` writes nothing
# outside DIR. Decided at install time, when the prefix is known (cmake --install --prefix, cpack).
function(even_install_system_files kind)
  set(files "")
  foreach(f IN LISTS ARGN)
    string(APPEND files " \"${CMAKE_SOURCE_DIR}/${f}\"")
  endforeach()
  if(kind STREQUAL "units")
    set(system_dir "/lib/systemd/system")
    set(prefixed_dir "lib/systemd/system")
  else()  # a folder under /etc
    set(system_dir "/etc/${kind}")
    set(prefixed_dir "etc/${kind}")
  endif()
  install(CODE "
    if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
      set(_even_dir \"${system_dir}\")
    else()
      set(_even_dir \"\${CMAKE_INSTALL_PREFIX}/${prefixed_dir}\")
    endif()
    file(INSTALL DESTINATION \"\${_even_dir}\" TYPE FILE FILES ${files})
  " COMPONENT service)
endfunction()

even_install_system_files(units
  ops/systemd/even-writer.service ops/systemd/even-reader.service ops/systemd/even-dispatcher.service
  ops/systemd/even-projector@.service ops/systemd/even-admin.service ops/systemd/even-groups.service
  ops/systemd/even.target)
even_install_system_files(even ops/etc/even.conf)
even_install_system_files(even/projector ops/etc/projector/README)

set(EVEN_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/even)
install(FILES README.md DESTINATION ${EVEN_DOC_DIR} COMPONENT service)
install(FILES ops/README.md DESTINATION ${EVEN_DOC_DIR} RENAME operators.md COMPONENT service)
foreach(service IN ITEMS writer reader dispatcher projector groups server admin)
  install(FILES services/${service}/README.md DESTINATION ${EVEN_DOC_DIR} RENAME even-${service}.md COMPONENT service)
endforeach()
install(FILES ops/supervisor/even.conf DESTINATION ${EVEN_DOC_DIR}/examples/supervisor COMPONENT service)
install(FILES examples/bank/projections.json DESTINATION ${EVEN_DOC_DIR}/examples/projector RENAME bank.json
        COMPONENT service)
install(FILES ops/etc/projector/bank-postgresql.json DESTINATION ${EVEN_DOC_DIR}/examples/projector COMPONENT service)

# --- the Debian package ------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME even)
set(CPACK_PACKAGE_VENDOR "Even")
set(CPACK_PACKAGE_CONTACT "Even maintainers <maintainers@even.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event store on MySQL/MariaDB with ZeroMQ services")
set(CPACK_PACKAGE_DESCRIPTION "Even stores events in MySQL/MariaDB and serves them over ZeroMQ:
even-writer (the single write master), even-dispatcher (the ordered feed), even-reader (reads),
even-projector (read models), even-server (all in one process), even-admin (a web UI), evenctl and even-bench, with
systemd units, a supervisor example and the client library for C++ applications
(find_package(Even), Even::client).")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # even_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Runtime dependencies from the shared libraries the programs link (dpkg-shlibdeps), plus adduser
# for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# The store's server, the other supervisor, and what building an application against the client
# library needs (its headers include those of these packages).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mariadb-server, supervisor, libzmq3-dev, cppzmq-dev, libcapnp-dev, \
libmysqlcppconn-dev, libspdlog-dev, libboost-program-options-dev, nlohmann-json3-dev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/ops/debian/postinst ${CMAKE_SOURCE_DIR}/ops/debian/prerm
  ${CMAKE_SOURCE_DIR}/ops/debian/postrm ${CMAKE_SOURCE_DIR}/ops/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
