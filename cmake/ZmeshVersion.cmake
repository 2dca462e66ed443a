# <zmesh/version.hpp>, generated from the project version into the build tree and
# installed with the other public headers (ZMESH_INSTALL_INCLUDE_DIRS).
set(ZMESH_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.hpp.in"
               "${ZMESH_GENERATED_INCLUDE_DIR}/zmesh/version.hpp" @ONLY)
set_property(GLOBAL APPEND PROPERTY ZMESH_INSTALL_INCLUDE_DIRS "${ZMESH_GENERATED_INCLUDE_DIR}")
