# pkg-config files for builds that do not use CMake (install component dev):
#   zmesh.pc       zmesh::core   c++ app.cpp $(pkg-config --cflags --libs zmesh)
#   zmesh-peer.pc  zmesh::peer   c++ app.cpp $(pkg-config --cflags --libs zmesh-peer)
# Cflags carry -std=c++20: the public headers need it (zmesh::core's cxx_std_20).
# libzmq is a public requirement (the headers include cppzmq, which includes zmq.h).
# What only a static link needs goes to Libs.private when the libraries are shared
# (ZMESH_SHARED; `pkg-config --static`), and straight to Libs when they are static only.
# zmesh::core serves metrics with cpp-httplib, a compiled library on Debian
# (libcpp-httplib-dev): a static link of zmesh_core needs -lcpp-httplib too.
set(ZMESH_PC_PRIVATE_LIBS "-pthread")
set(ZMESH_PC_PRIVATE_REQUIRES "cpp-httplib")
if(ZMESH_SHARED)
  set(ZMESH_PC_LIBS "")
  set(ZMESH_PC_LIBS_PRIVATE "${ZMESH_PC_PRIVATE_LIBS}")
  set(ZMESH_PC_REQUIRES "")
  set(ZMESH_PC_REQUIRES_PRIVATE "${ZMESH_PC_PRIVATE_REQUIRES}")
else()
  set(ZMESH_PC_LIBS " ${ZMESH_PC_PRIVATE_LIBS}")
  set(ZMESH_PC_LIBS_PRIVATE "")
  set(ZMESH_PC_REQUIRES " ${ZMESH_PC_PRIVATE_REQUIRES}")
  set(ZMESH_PC_REQUIRES_PRIVATE "")
endif()
# prefix: /usr in the packages; otherwise relative to the .pc file, so that
# `cmake --install build --prefix /opt/zmesh` gets a .pc that points into /opt/zmesh.
if(ZMESH_PACKAGE)
  set(ZMESH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _up "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(ZMESH_PC_PREFIX "\${pcfiledir}/${_up}")
endif()
foreach(_pc zmesh zmesh-peer)
  configure_file("${CMAKE_CURRENT_LIST_DIR}/${_pc}.pc.in" "${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc"
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()
