# <zmesh/version.hpp>, generated from the project version into the build tree and
# installed with the other public headers (ZMESH_INSTALL_INCLUDE_DIRS).
# ZMESH_VERSION_SUFFIX tags a build of the same release ("+local1"): it is appended to
# ZMESH_VERSION_STRING, kVersion and zmesh::version(), never to the numbers or the soname.
# tests/package uses it to tell a rebuilt library from the installed one.
set(ZMESH_VERSION_SUFFIX "" CACHE STRING "Appended to the version string (a build tag such as +local1)")
set(ZMESH_VERSION_FULL "${PROJECT_VERSION}${ZMESH_VERSION_SUFFIX}")
set(ZMESH_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.hpp.in"
               "${ZMESH_GENERATED_INCLUDE_DIR}/zmesh/version.hpp" @ONLY)
set_property(GLOBAL APPEND PROPERTY ZMESH_INSTALL_INCLUDE_DIRS "${ZMESH_GENERATED_INCLUDE_DIR}")
