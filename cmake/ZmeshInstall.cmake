# install() rules and the exported package: find_package(zmesh) gives zmesh::core, ...
include(CMakePackageConfigHelpers)

get_property(_zmesh_targets GLOBAL PROPERTY ZMESH_INSTALL_TARGETS)

# In a sanitizer build (ZMESH_SANITIZE) the libraries are instrumented, and whatever links
# them needs the sanitizer runtime. In-tree targets get it from zmesh_build_options, which
# is never exported; give the exported libraries the same link options so that an
# installed sanitizer build links for its users too. Nothing is added in a normal build.
get_target_property(_zmesh_san_link zmesh_build_options INTERFACE_LINK_OPTIONS)
if(_zmesh_san_link)
  foreach(_t IN LISTS _zmesh_targets)
    get_target_property(_type ${_t} TYPE)
    if(_type STREQUAL "STATIC_LIBRARY" OR _type STREQUAL "SHARED_LIBRARY")
      foreach(_opt IN LISTS _zmesh_san_link)
        set_property(TARGET ${_t} APPEND PROPERTY INTERFACE_LINK_OPTIONS "$<INSTALL_INTERFACE:${_opt}>")
      endforeach()
    endif()
  endforeach()
endif()

# Install components, one per Debian package (cmake/ZmeshPackage.cmake): libs (the shared
# libraries), dev (headers, static libraries, .so links, CMake and pkg-config files),
# broker (zmesh-broker) and tools (zmesh). Only libraries are exported: an imported
# executable would make find_package(zmesh) fail wherever that program is not installed.
set(_zmesh_libraries "")
foreach(_t IN LISTS _zmesh_targets)
  get_target_property(_type ${_t} TYPE)
  if(_type STREQUAL "EXECUTABLE")
    if(_t STREQUAL "zmesh-broker")
      set(_component broker)
    else()
      set(_component tools)
    endif()
    install(TARGETS ${_t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${_component})
  else()
    list(APPEND _zmesh_libraries ${_t})
  endif()
endforeach()
install(TARGETS ${_zmesh_libraries}
  EXPORT zmeshTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT libs NAMELINK_COMPONENT dev)
# ZMESH_SHARED: the static libraries built from the same objects (libzmesh_core.a, ...),
# for `pkg-config --static` and -static links; CMake users get the shared ones.
get_property(_zmesh_static_siblings GLOBAL PROPERTY ZMESH_STATIC_SIBLINGS)
if(_zmesh_static_siblings)
  install(TARGETS ${_zmesh_static_siblings} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
endif()
# `cmake --install --strip` (and CPACK_STRIP_FILES) strips programs and shared libraries
# only; the static libraries lose their debug information here (45 MB -> a few MB).
foreach(_t IN LISTS _zmesh_libraries _zmesh_static_siblings)
  get_target_property(_type ${_t} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY")
    install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug --enable-deterministic-archives
    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${_t}>\")
endif()" COMPONENT dev)
  endif()
endforeach()
get_property(_zmesh_include_dirs GLOBAL PROPERTY ZMESH_INSTALL_INCLUDE_DIRS)
foreach(_dir IN LISTS _zmesh_include_dirs)
  install(DIRECTORY "${_dir}/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
endforeach()
include(ZmeshPkgConfig)

set(_zmesh_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
install(EXPORT zmeshTargets NAMESPACE zmesh:: DESTINATION ${_zmesh_cmake_dir} COMPONENT dev)
configure_package_config_file(cmake/zmeshConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfig.cmake"
  INSTALL_DESTINATION ${_zmesh_cmake_dir})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/zmeshConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfigVersion.cmake"
        DESTINATION ${_zmesh_cmake_dir} COMPONENT dev)
