# zmesh_flatc(<target> OUTPUT_DIR <dir> SCHEMAS <a.fbs>...)
# Debian 12's libflatbuffers-dev ships no BuildFlatBuffers.cmake, so this runs flatc
# itself. Generated headers go to the build tree only; they are never committed.
function(zmesh_flatc target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SCHEMAS" ${ARGN})
  set(outputs)
  foreach(schema IN LISTS ARG_SCHEMAS)
    get_filename_component(abs "${schema}" ABSOLUTE)
    get_filename_component(stem "${schema}" NAME_WE)
    set(out "${ARG_OUTPUT_DIR}/${stem}_generated.h")
    add_custom_command(
      OUTPUT "${out}"
      COMMAND flatbuffers::flatc --cpp --scoped-enums --cpp-std c++17 -I "${CMAKE_CURRENT_SOURCE_DIR}"
              -o "${ARG_OUTPUT_DIR}" "${abs}"
      DEPENDS "${abs}" ${ARG_SCHEMAS} flatbuffers::flatc
      COMMENT "flatc ${stem}.fbs"
      VERBATIM)
    list(APPEND outputs "${out}")
  endforeach()
  add_custom_target(${target}_gen DEPENDS ${outputs})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
endfunction()
