# Debian packages, built with CPack (`cpack -G DEB` in a ZMESH_PACKAGE build; the whole
# recipe is scripts/build-debs.sh). One package per install component:
#   libzmesh1     libs    libzmesh_core.so.1, libzmesh_peer.so.1
#   libzmesh-dev  dev     headers, .so links, static libraries, CMake package, pkg-config
#   zmesh-broker  broker  zmesh-broker, its systemd unit and /etc/zmesh/zmesh-broker.conf
#   zmesh-tools   tools   zmesh
# Runtime Depends come from dpkg-shlibdeps; the maintainer scripts of zmesh-broker are
# in deploy/debian/. docs/packaging.md explains the choices and the lintian results.
if(NOT ZMESH_PACKAGE)
  return()
endif()
if(NOT ZMESH_SHARED)
  message(FATAL_ERROR "ZMESH_PACKAGE needs ZMESH_SHARED=ON (libzmesh1 holds the shared libraries)")
endif()
set(ZMESH_PACKAGE_MAINTAINER "zmesh maintainers <zmesh@example.org>" CACHE STRING
    "Maintainer field of the Debian packages (and their changelog)")
set(ZMESH_PACKAGE_DATE "Wed, 02 Dec 2026 00:00:00 +0000" CACHE STRING
    "Release date in the Debian changelog (RFC 2822); fixed so that packages are reproducible")
# The same date for help2man (SOURCE_DATE_EPOCH), as seconds since 1970.
set(ZMESH_PACKAGE_EPOCH 1796169600)
set(_deb "${PROJECT_SOURCE_DIR}/deploy/debian")
set(_gen "${PROJECT_BINARY_DIR}/debian")

# --- zmesh-broker: the unit from deploy/, with the package's paths and its system user
file(READ "${PROJECT_SOURCE_DIR}/deploy/zmesh-broker.service" _unit)
foreach(_from_to "/usr/local/bin/zmesh-broker|${CMAKE_INSTALL_FULL_BINDIR}/zmesh-broker"
                 "DynamicUser=yes|# (Package: the system user zmesh that postinst creates, in place of\n# DynamicUser=yes. RemoveIPC is what DynamicUser implied beyond the settings here.)\nUser=zmesh\nGroup=zmesh\nRemoveIPC=yes")
  string(REPLACE "|" ";" _from_to "${_from_to}")
  list(GET _from_to 0 _from)
  list(GET _from_to 1 _to)
  string(FIND "${_unit}" "${_from}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "deploy/zmesh-broker.service has no '${_from}' any more: update cmake/ZmeshPackage.cmake")
  endif()
  string(REPLACE "${_from}" "${_to}" _unit "${_unit}")
endforeach()
file(WRITE "${_gen}/zmesh-broker.service" "${_unit}")
install(FILES "${_gen}/zmesh-broker.service" DESTINATION /lib/systemd/system COMPONENT broker)
install(FILES "${PROJECT_SOURCE_DIR}/deploy/zmesh-broker.conf" DESTINATION /etc/zmesh COMPONENT broker)

# --- Manual pages, made by help2man from --help and --version of the built programs
find_program(ZMESH_HELP2MAN help2man REQUIRED)
foreach(_prog_component_name "zmesh-broker|broker|zmesh discovery broker"
                             "zmesh|tools|zmesh command line tool")
  string(REPLACE "|" ";" _p "${_prog_component_name}")
  list(GET _p 0 _prog)
  list(GET _p 1 _component)
  list(GET _p 2 _name)
  set(_man "${_gen}/${_prog}.1.gz")
  add_custom_command(OUTPUT "${_man}"
    COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${ZMESH_PACKAGE_EPOCH}
            sh -c "\"$0\" --no-info --no-discard-stderr --name \"$1\" \"$2\" | gzip -9n > \"$3\""
            ${ZMESH_HELP2MAN} "${_name}" "$<TARGET_FILE:${_prog}>" "${_man}"
    DEPENDS ${_prog}
    COMMENT "help2man ${_prog}"
    VERBATIM)
  add_custom_target(${_prog}_man ALL DEPENDS "${_man}")
  install(FILES "${_man}" DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${_component})
endforeach()

# --- /usr/share/doc/<package>/: copyright and the Debian changelog of each package
set(_packages libs libzmesh1 dev libzmesh-dev broker zmesh-broker tools zmesh-tools)
configure_file("${_deb}/changelog.in" "${_gen}/changelog" @ONLY)
execute_process(COMMAND gzip -9nc "${_gen}/changelog" OUTPUT_FILE "${_gen}/changelog.gz"
                RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "gzip of the Debian changelog failed")
endif()
while(_packages)
  list(POP_FRONT _packages _component _name)
  install(FILES "${_deb}/copyright" "${_gen}/changelog.gz"
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_name} COMPONENT ${_component})
  string(TOUPPER "${_component}" _C)
  set(CPACK_DEBIAN_${_C}_PACKAGE_NAME ${_name})
endwhile()

# --- CPack
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zmesh)
set(CPACK_PACKAGE_VENDOR zmesh)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${ZMESH_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_SET_DESTDIR ON)  # the unit and /etc/zmesh are installed to absolute paths
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL libs dev broker tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "")  # a native package: version 0.1.0
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}/lib;${PROJECT_BINARY_DIR}/peer")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_DEV_DEPENDS libs)
set(CPACK_COMPONENT_BROKER_DEPENDS libs)
set(CPACK_COMPONENT_TOOLS_DEPENDS libs)

set(CPACK_DEBIAN_LIBS_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # DEBIAN/shlibs, for packages that link libzmesh1
# The loader cache is updated by libc's ldconfig trigger (Debian policy 8.1.1).
set(CPACK_DEBIAN_LIBS_PACKAGE_CONTROL_EXTRA
    "${_deb}/libzmesh1/triggers")
install(FILES "${_deb}/libzmesh1/lintian-overrides" RENAME libzmesh1
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides COMPONENT libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_LIBS_DESCRIPTION "zmesh messaging middleware - shared libraries
 zmesh is messaging middleware for C++ services, built on ZeroMQ:
 request/response, fire-and-forget messages and broadcasts between peers,
 with an optional discovery broker. This package holds the shared libraries
 libzmesh_core and libzmesh_peer.")

set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The headers include cppzmq (and so zmq.h); the CMake package's zmesh::broker needs spdlog,
# and the static zmesh_core (and the CMake package's find_dependency) cpp-httplib.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libzmq3-dev (>= 4.3), cppzmq-dev, libspdlog-dev, libcpp-httplib-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "zmesh messaging middleware - development files
 zmesh is messaging middleware for C++ services, built on ZeroMQ. This
 package holds the headers, the static libraries, the CMake package
 (find_package(zmesh): zmesh::core, zmesh::peer) and the pkg-config files
 zmesh.pc and zmesh-peer.pc.")

set(CPACK_DEBIAN_BROKER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
    "${_deb}/zmesh-broker/conffiles;${_deb}/zmesh-broker/postinst;${_deb}/zmesh-broker/prerm;${_deb}/zmesh-broker/postrm")
set(CPACK_DEBIAN_BROKER_DESCRIPTION "zmesh messaging middleware - discovery broker
 zmesh is messaging middleware for C++ services, built on ZeroMQ. The broker
 tells peers where the others are and which services they offer; data never
 passes through it. Installed as the systemd service zmesh-broker (enabled,
 not started), configured in /etc/zmesh/zmesh-broker.conf, running as the
 system user zmesh.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION net)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "zmesh messaging middleware - command line tool
 zmesh is messaging middleware for C++ services, built on ZeroMQ. The zmesh
 command sends, requests, replies, publishes and subscribes from a shell,
 lists the peers a broker knows and pings them.")

include(CPack)
