# cmake -P script behind the package.public_headers test: every public header of the
# shared libraries (zmesh::core, zmesh::peer) opens its namespace as
# `namespace ZMESH_API zmesh {` (zmesh/core/export.hpp). A plain `namespace zmesh {` in
# one of them would leave its functions hidden in libzmesh_*.so, and programs that use
# them would not link against the packages. -DINCLUDE_DIRS="dir;dir" (the include roots).
cmake_minimum_required(VERSION 3.25)
set(bad "")
set(n 0)
foreach(dir IN LISTS INCLUDE_DIRS)
  file(GLOB_RECURSE headers "${dir}/*.hpp")
  foreach(h IN LISTS headers)
    math(EXPR n "${n} + 1")
    file(STRINGS "${h}" plain REGEX "^[ \t]*namespace[ \t]+zmesh[ \t]*{")
    if(plain)
      list(APPEND bad "${h}")
    endif()
  endforeach()
endforeach()
if(n EQUAL 0)
  message(FATAL_ERROR "no headers under ${INCLUDE_DIRS}")
endif()
if(bad)
  list(JOIN bad "\n  " bad)
  message(FATAL_ERROR "public headers with a plain `namespace zmesh {`; write "
                      "`namespace ZMESH_API zmesh {` and include \"zmesh/core/export.hpp\" "
                      "(docs/packaging.md, What is exported):\n  ${bad}")
endif()
message(STATUS "${n} public headers, each namespace zmesh exported with ZMESH_API")
