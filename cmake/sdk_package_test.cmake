# CTest `sdk_package` (label sdk), run as cmake -P with BUILD_DIR, SOURCE_DIR, WORK_DIR, CXX,
# GENERATOR. Installs the SDK component into a fresh prefix, then
#  1. compiles every installed public header alone, with only the prefix's include/ on the
#     include path: a header that reaches an internal one (common/, json/, crypto/ ...) fails;
#  2. configures examples/producer-consumer with find_package(spectrastrike CONFIG REQUIRED)
#     against that prefix only, builds it and runs it.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "sdk_package: failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} --build "${BUILD_DIR}" --target spectrastrike_producer)
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --component sdk --prefix "${prefix}")

file(GLOB headers RELATIVE "${prefix}/include" "${prefix}/include/spectrastrike/*.h")
list(LENGTH headers n)
if(n EQUAL 0)
  message(FATAL_ERROR "sdk_package: no headers installed under ${prefix}/include/spectrastrike")
endif()
foreach(h ${headers})
  file(WRITE "${WORK_DIR}/hdr/${h}.cc" "#include <${h}>\n#include <${h}>  // include guard\n")
  run(${CXX} -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I "${prefix}/include"
      "${WORK_DIR}/hdr/${h}.cc")
endforeach()

run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/producer-consumer" -B "${WORK_DIR}/example"
    -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX}
    "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/example")
execute_process(COMMAND "${WORK_DIR}/example/producer_consumer" WORKING_DIRECTORY "${WORK_DIR}/example"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sdk_package: the example failed (${rc})")
endif()
message(STATUS "sdk_package: ${n} public headers self-contained; example built and ran")
