# Corpus replay: every fuzz target is also built, with any compiler, into <target>_replay
# (the target's LLVMFuzzerTestOneInput + fuzz/replay_main.cc) and, when VV_BUILD_TESTS is on,
# registered as the CTest test fuzz_replay.<target> over fuzz/corpus/<target>/, so each seed
# corpus is a regression suite in every CI run (label "fuzz").
# Include from the top-level CMakeLists after add_subdirectory(src):
#   include(${CMAKE_SOURCE_DIR}/fuzz/replay.cmake)
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/targets.cmake)

foreach(_t ${VV_FUZZ_TARGETS})
  add_executable(${_t}_replay ${VV_FUZZ_DIR}/${_t}.cc ${VV_FUZZ_DIR}/replay_main.cc)
  target_link_libraries(${_t}_replay PRIVATE ${VV_FUZZ_DEPS_${_t}})
  target_compile_definitions(${_t}_replay PRIVATE VV_FUZZ_REPLAY=1)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 false positive in std::variant's destructor (Result<MitreCatalog> in schema_fuzz).
    target_compile_options(${_t}_replay PRIVATE -Wno-free-nonheap-object)
  endif()
  if(VV_BUILD_TESTS)
    add_test(NAME fuzz_replay.${_t}
             COMMAND ${_t}_replay ${VV_FUZZ_DIR}/corpus/${_t})
    set_tests_properties(fuzz_replay.${_t} PROPERTIES LABELS "fuzz" TIMEOUT 120)
  endif()
endforeach()
