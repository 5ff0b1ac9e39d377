# The SpectraStrike producer SDK as an installable package (component `sdk`):
#   include/spectrastrike/*.h                      the public headers (standard library only)
#   lib/libspectrastrike_producer.a                 vv_client and the internal libraries it uses,
#                                                   merged into one archive
#   lib/cmake/spectrastrike/spectrastrikeConfig.cmake  find_package(spectrastrike CONFIG) and
#                                                   the imported target spectrastrike::producer
# A consumer needs only the system libraries the archive links against (OpenSSL, libsodium,
# SQLite, yaml-cpp, threads); the config file finds them with find_dependency.
# The `sdk_package` test (label sdk) installs this component into a temporary prefix, compiles
# every public header on its own against it and builds examples/producer-consumer.

# vv_client and the vv_ libraries it reaches (src/client/CMakeLists.txt and theirs). A library
# missing here shows up as an undefined symbol when the sdk_package test links the example.
set(SS_SDK_ARCHIVES vv_client vv_tls vv_sqlstore vv_crypto vv_json vv_common)
set(SS_SDK_LIB "${CMAKE_BINARY_DIR}/sdk/libspectrastrike_producer.a")
set(_mri "CREATE ${SS_SDK_LIB}\n")
foreach(_t ${SS_SDK_ARCHIVES})
  string(APPEND _mri "ADDLIB $<TARGET_FILE:${_t}>\n")
endforeach()
string(APPEND _mri "SAVE\nEND\n")
file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/sdk/merge.mri" CONTENT "${_mri}")
set(_deps)
foreach(_t ${SS_SDK_ARCHIVES})
  list(APPEND _deps ${_t} $<TARGET_FILE:${_t}>)
endforeach()
add_custom_command(
  OUTPUT ${SS_SDK_LIB}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${SS_SDK_LIB}
  COMMAND sh -c "\"${CMAKE_AR}\" -M < \"${CMAKE_BINARY_DIR}/sdk/merge.mri\""
  DEPENDS ${_deps} "${CMAKE_BINARY_DIR}/sdk/merge.mri"
  COMMENT "Merging the SpectraStrike SDK archive"
  VERBATIM)
add_custom_target(spectrastrike_producer ALL DEPENDS ${SS_SDK_LIB})

include(CMakePackageConfigHelpers)
file(RELATIVE_PATH SS_REL_INCLUDE "/p/${CMAKE_INSTALL_LIBDIR}/cmake/spectrastrike"
     "/p/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/spectrastrikeConfig.cmake.in
               "${CMAKE_BINARY_DIR}/sdk/spectrastrikeConfig.cmake" @ONLY)
write_basic_package_version_file(
  "${CMAKE_BINARY_DIR}/sdk/spectrastrikeConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/spectrastrike
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk FILES_MATCHING PATTERN "*.h")
install(FILES ${SS_SDK_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
install(FILES "${CMAKE_BINARY_DIR}/sdk/spectrastrikeConfig.cmake"
              "${CMAKE_BINARY_DIR}/sdk/spectrastrikeConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spectrastrike COMPONENT sdk)

# Not in sanitizer builds: the archive would hold instrumented code the example is not built for.
if(VV_BUILD_TESTS AND NOT VV_SANITIZE)
  add_test(NAME sdk_package
    COMMAND ${CMAKE_COMMAND}
      -DBUILD_DIR=${CMAKE_BINARY_DIR}
      -DSOURCE_DIR=${CMAKE_SOURCE_DIR}
      -DWORK_DIR=${CMAKE_BINARY_DIR}/sdk/test
      -DCXX=${CMAKE_CXX_COMPILER}
      -DGENERATOR=${CMAKE_GENERATOR}
      -P ${CMAKE_SOURCE_DIR}/cmake/sdk_package_test.cmake)
  set_tests_properties(sdk_package PROPERTIES LABELS sdk TIMEOUT 120)
endif()
