# install() rules and the exported package: find_package(zmesh) gives zmesh::core, ...
include(CMakePackageConfigHelpers)

get_property(_zmesh_targets GLOBAL PROPERTY ZMESH_INSTALL_TARGETS)
install(TARGETS ${_zmesh_targets}
  EXPORT zmeshTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
get_property(_zmesh_include_dirs GLOBAL PROPERTY ZMESH_INSTALL_INCLUDE_DIRS)
foreach(_dir IN LISTS _zmesh_include_dirs)
  install(DIRECTORY "${_dir}/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()

set(_zmesh_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
install(EXPORT zmeshTargets NAMESPACE zmesh:: DESTINATION ${_zmesh_cmake_dir})
configure_package_config_file(cmake/zmeshConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfig.cmake"
  INSTALL_DESTINATION ${_zmesh_cmake_dir})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/zmeshConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/zmeshConfigVersion.cmake"
        DESTINATION ${_zmesh_cmake_dir})
