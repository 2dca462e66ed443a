# zmesh_library(<target>): how zmesh::core and zmesh::peer are built.
#   - Symbols are hidden unless a public header exports them (zmesh/core/export.hpp), in
#     static builds too, so that every build compiles what the shared one does (below).
#   - ZMESH_SHARED=ON (the packages): a shared library with an soname, plus a static
#     library of the same objects (same name, .a) for libzmesh-dev; nothing is compiled twice.
#     Off (the default, and the test builds): a static library only.
#
# soname: libzmesh_<x>.so.<ZMESH_SOVERSION>. ZMESH_SOVERSION is the ABI version, not the
# release: bump it for every incompatible change of an exported symbol or type, and the
# Debian package name with it (libzmesh1). The file is libzmesh_<x>.so.<soversion>.<minor>.<patch>.
option(ZMESH_SHARED "Build zmesh::core and zmesh::peer as shared libraries (static ones alongside)" OFF)
option(ZMESH_PACKAGE "Install for Debian packages (prefix /usr, systemd unit, /etc config) and set up CPack (cmake/ZmeshPackage.cmake)" OFF)
set(ZMESH_SOVERSION 1)
if(ZMESH_SHARED)
  # The unit tests and benchmarks reach into the libraries' internals, which a shared
  # library does not export; the examples and the programs use the public API only.
  if(ZMESH_BUILD_TESTS OR ZMESH_BUILD_BENCH)
    message(FATAL_ERROR "ZMESH_SHARED=ON needs -DZMESH_BUILD_TESTS=OFF -DZMESH_BUILD_BENCH=OFF: "
                        "tests and benchmarks use internal symbols the shared libraries hide "
                        "(the test builds are static; tests/package tests the shared ones)")
  endif()
  set(ZMESH_LIBRARY_TYPE SHARED)
else()
  set(ZMESH_LIBRARY_TYPE STATIC)
endif()

# Every zmesh target is compiled with hidden visibility, not only the two libraries: the
# tests and programs include private headers whose classes derive from or hold the
# `namespace ZMESH_HIDDEN detail` types of public headers, and GCC warns (-Wattributes)
# when a class is more visible than its base or its members. Programs export nothing
# either way.
set(CMAKE_CXX_VISIBILITY_PRESET hidden)
set(CMAKE_VISIBILITY_INLINES_HIDDEN ON)

function(zmesh_library target)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "SHARED_LIBRARY")
    return()
  endif()
  set_target_properties(${target} PROPERTIES
    VERSION ${ZMESH_SOVERSION}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}
    SOVERSION ${ZMESH_SOVERSION})
  # Every dependency is linked in (no undefined symbols left for the application), and
  # only the public API is exported: see cmake/zmesh.map.
  target_link_options(${target} PRIVATE -Wl,--no-undefined
    -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/zmesh.map)
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/zmesh.map)

  get_target_property(name ${target} OUTPUT_NAME)
  add_library(${target}_static STATIC $<TARGET_OBJECTS:${target}>)
  set_target_properties(${target}_static PROPERTIES OUTPUT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY ZMESH_STATIC_SIBLINGS ${target}_static)
endfunction()
