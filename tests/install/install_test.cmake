# cmake -P script behind the install.consumer test (see CMakeLists.txt for the -D inputs).
#   1. cmake --install <build dir> --prefix <WORK_DIR>/prefix
#   2. checks the installed tree: every public header, libzmesh_core, the package files,
#      and that no installed header needs the generated <zmesh/wire/...> or FlatBuffers
#   3. configures and builds tests/install/consumer against the prefix, then runs it
#   4. builds its main.cpp again with plain c++ and `pkg-config zmesh` from the prefix
# WORK_DIR is removed first and again on success; after a failure it is left for a look.
cmake_minimum_required(VERSION 3.25)

foreach(var ZMESH_BUILD_DIR ZMESH_INCLUDE_SOURCE_DIR CONSUMER_SOURCE_DIR WORK_DIR INSTALL_LIBDIR
            INSTALL_INCLUDEDIR CORE_LIB_NAME GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc COMMAND_ECHO STDOUT)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: command failed (${rc}); files left in ${WORK_DIR}")
  endif()
endfunction()

set(errors "")
macro(fail what)
  list(APPEND errors "${what}")
endmacro()

# ---------------------------------------------------------------- 1. install
set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run("${CMAKE_COMMAND}" --install "${ZMESH_BUILD_DIR}" --prefix "${prefix}" ${config_args})

# ---------------------------------------------------------------- 2. the installed tree
set(inc "${prefix}/${INSTALL_INCLUDEDIR}")
set(pkg "${prefix}/${INSTALL_LIBDIR}/cmake/zmesh")
file(GLOB_RECURSE source_headers RELATIVE "${ZMESH_INCLUDE_SOURCE_DIR}"
     "${ZMESH_INCLUDE_SOURCE_DIR}/zmesh/core/*")
if(NOT source_headers)
  fail("no headers found under ${ZMESH_INCLUDE_SOURCE_DIR}/zmesh/core")
endif()
foreach(h IN LISTS source_headers)
  if(NOT EXISTS "${inc}/${h}")
    fail("header not installed: ${INSTALL_INCLUDEDIR}/${h}")
  endif()
endforeach()
foreach(f "${INSTALL_LIBDIR}/${CORE_LIB_NAME}" "${INSTALL_LIBDIR}/cmake/zmesh/zmeshConfig.cmake"
          "${INSTALL_LIBDIR}/cmake/zmesh/zmeshConfigVersion.cmake"
          "${INSTALL_LIBDIR}/cmake/zmesh/zmeshTargets.cmake")
  if(NOT EXISTS "${prefix}/${f}")
    fail("not installed: ${f}")
  endif()
endforeach()

# The wire headers flatc generates stay in the build tree: nothing installed may need them.
file(GLOB_RECURSE generated "${prefix}/*_generated.h")
if(generated)
  fail("generated FlatBuffers headers installed: ${generated}")
endif()
file(GLOB_RECURSE installed_headers "${inc}/*")
foreach(h IN LISTS installed_headers)
  file(STRINGS "${h}" bad_includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](zmesh/wire/|flatbuffers)")
  if(bad_includes)
    fail("${h} includes a build-tree-only header: ${bad_includes}")
  endif()
endforeach()

if(errors)
  list(JOIN errors "\n  " msg)
  message(FATAL_ERROR "install test: the installed tree is wrong:\n  ${msg}\nfiles left in ${WORK_DIR}")
endif()
list(LENGTH installed_headers n_headers)
message(STATUS "installed tree ok: ${n_headers} headers, ${CORE_LIB_NAME}, package in ${pkg}")

# ---------------------------------------------------------------- 3. the consumer
set(configure_args
  -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  # Only the fresh prefix: never a zmesh registered by another build or installed elsewhere.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  "-DZMESH_EXAMPLES_DIR=${EXAMPLES_DIR}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(SANITIZE_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS}"
                             "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()
run("${CMAKE_COMMAND}" ${configure_args})
# find_package(zmesh) must have found the fresh prefix, not some other zmesh on the system.
file(STRINGS "${consumer_build}/CMakeCache.txt" found_dir REGEX "^zmesh_DIR:")
string(REGEX REPLACE "^zmesh_DIR:[A-Z]+=" "" found_dir "${found_dir}")
file(REAL_PATH "${pkg}" want_dir)
if(EXISTS "${found_dir}")
  file(REAL_PATH "${found_dir}" found_dir)
endif()
if(NOT found_dir STREQUAL want_dir)
  message(FATAL_ERROR "install test: consumer found zmesh in '${found_dir}', not in ${want_dir}")
endif()
run("${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

set(exe "${consumer_build}/consumer")
if(CONFIG AND EXISTS "${consumer_build}/${CONFIG}/consumer")  # multi-config generators
  set(exe "${consumer_build}/${CONFIG}/consumer")
endif()
run("${exe}")
# An example from examples/, built out of tree against the installed zmesh::peer.
run("${consumer_build}/example_request_reply")

# ---------------------------------------------------------------- 4. pkg-config
# The same consumer with plain `c++ main.cpp $(pkg-config --cflags --libs zmesh)`, against
# the .pc file of the prefix (relative to itself: cmake/ZmeshPkgConfig.cmake).
find_program(PKG_CONFIG pkg-config)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/${INSTALL_LIBDIR}/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs zmesh OUTPUT_VARIABLE pc_flags
                  RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: pkg-config zmesh failed; files left in ${WORK_DIR}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  separate_arguments(san UNIX_COMMAND "${SANITIZE_FLAGS}")
  run("${CXX_COMPILER}" -o "${WORK_DIR}/pc_consumer" "${CONSUMER_SOURCE_DIR}/main.cpp" ${pc_flags} ${san})
  run("${WORK_DIR}/pc_consumer")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "install test passed")
