# vv_add_library(<component> DEPS <libs...>)
# One static library per component folder under src/: every *.cc in the folder is a source.
# Include root is src/ (internal headers are included as "verify/check.h") plus include/.
function(vv_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB _srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.cc")
  if(NOT _srcs)
    # Placeholder until the component has sources: keeps dependents linkable.
    file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/empty_${name}.cc" "")
    set(_srcs "${CMAKE_CURRENT_BINARY_DIR}/empty_${name}.cc")
  endif()
  add_library(vv_${name} STATIC ${_srcs})
  target_include_directories(vv_${name} PUBLIC ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(vv_${name} PUBLIC ${ARG_DEPS})
  target_compile_definitions(vv_${name} PUBLIC VV_DATA_DIR="${VV_DATA_DIR}")
endfunction()

# vv_add_tests(<component> DEPS <libs...>)
# One executable per tests/<component>/*_test.cc, registered with CTest (gtest_discover_tests).
function(vv_add_tests comp)
  cmake_parse_arguments(ARG "" "" "DEPS;LABELS" ${ARGN})
  file(GLOB _tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc")
  foreach(t ${_tests})
    get_filename_component(_n ${t} NAME_WE)
    add_executable(${_n} ${t})
    target_link_libraries(${_n} PRIVATE ${ARG_DEPS} vv_test_support GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_definitions(${_n} PRIVATE VV_TESTDATA_DIR="${VV_TESTDATA_DIR}"
      VV_BIN_DIR="${CMAKE_BINARY_DIR}/bin" VV_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
    gtest_discover_tests(${_n} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${comp};${ARG_LABELS}")
  endforeach()
endfunction()
