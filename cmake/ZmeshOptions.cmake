# Compile options shared by every zmesh target: warnings and sanitizers.
add_library(zmesh_build_options INTERFACE)
target_compile_options(zmesh_build_options INTERFACE -Wall -Wextra -Wpedantic)
if(ZMESH_WERROR)
  target_compile_options(zmesh_build_options INTERFACE -Werror)
endif()

if(ZMESH_SANITIZE)
  string(REPLACE "," ";" _zmesh_sanitizers "${ZMESH_SANITIZE}")
  foreach(_s IN LISTS _zmesh_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "ZMESH_SANITIZE: unknown sanitizer '${_s}' (address, undefined, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _zmesh_sanitizers AND "address" IN_LIST _zmesh_sanitizers)
    message(FATAL_ERROR "ZMESH_SANITIZE: thread cannot be combined with address")
  endif()
  set(_zmesh_san_flags -fsanitize=${ZMESH_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _zmesh_sanitizers)
    list(APPEND _zmesh_san_flags -fno-sanitize-recover=undefined)
  endif()
  target_compile_options(zmesh_build_options INTERFACE ${_zmesh_san_flags})
  # GCC's flow analysis is unreliable with sanitizer instrumentation (its manual says the
  # sanitizers can cause false warnings): GCC 12 with ASan reports libstdc++'s own
  # std::regex as "may be used uninitialized" (GCC bug 105562). The plain build keeps it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(zmesh_build_options INTERFACE -Wno-maybe-uninitialized)
  endif()
  target_link_options(zmesh_build_options INTERFACE ${_zmesh_san_flags})
endif()

# zmesh_apply_options(<target>): warnings + sanitizers, without exporting them to users.
function(zmesh_apply_options target)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:zmesh_build_options>)
endfunction()
