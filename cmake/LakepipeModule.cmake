# lakepipe_module(NAME <target> DEPS <targets...>)
#
# Declares one subsystem folder: every *.cc in the folder (not *_test.cc, *_benchmark.cc or
# *_fuzz.cc) becomes the static library <target>; every *_test.cc becomes one GoogleTest
# binary <target>_test registered with ctest. Each *_fuzz.cc (a libFuzzer entry point,
# LLVMFuzzerTestOneInput) becomes <stem>_replay, a ctest that runs it over its corpus in
# tests/fuzz/corpus/<stem>/ (docs/fuzzing.md), and with LAKEPIPE_FUZZ (`make fuzz`, clang)
# the fuzzer <stem> itself. Files are globbed so that adding a source file needs no CMake
# edit (CONFIGURE_DEPENDS re-globs on each build).
function(lakepipe_module)
  cmake_parse_arguments(M "" "NAME" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB all_cc CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  set(lib_cc "")
  set(test_cc "")
  set(fuzz_cc "")
  foreach(f IN LISTS all_cc)
    if(f MATCHES "_test\\.cc$")
      list(APPEND test_cc ${f})
    elseif(f MATCHES "_fuzz\\.cc$")
      list(APPEND fuzz_cc ${f})
    elseif(f MATCHES "_benchmark\\.cc$")
    else()
      list(APPEND lib_cc ${f})
    endif()
  endforeach()
  if(lib_cc)
    add_library(${M_NAME} STATIC ${lib_cc})
    set(scope PUBLIC)
  else()
    # Headers only so far (a module under construction).
    add_library(${M_NAME} INTERFACE)
    set(scope INTERFACE)
  endif()
  target_include_directories(${M_NAME} ${scope} ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(${M_NAME} ${scope} ${M_DEPS})
  if(LAKEPIPE_TESTS AND test_cc)
    add_executable(${M_NAME}_test ${test_cc})
    target_link_libraries(${M_NAME}_test PRIVATE ${M_NAME} ${M_TEST_DEPS} lp_testing GTest::gtest GTest::gmock GTest::gtest_main)
    gtest_discover_tests(${M_NAME}_test
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      DISCOVERY_TIMEOUT 60
      PROPERTIES ENVIRONMENT "LAKEPIPE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endif()
  foreach(f IN LISTS fuzz_cc)
    get_filename_component(stem ${f} NAME_WE)
    if(LAKEPIPE_FUZZ)
      add_executable(${stem} ${f})
      target_link_libraries(${stem} PRIVATE ${M_NAME})
      target_link_options(${stem} PRIVATE -fsanitize=fuzzer)
      set_property(GLOBAL APPEND PROPERTY LAKEPIPE_FUZZERS ${stem})
    endif()
    if(LAKEPIPE_TESTS)
      add_executable(${stem}_replay ${f})
      target_link_libraries(${stem}_replay PRIVATE ${M_NAME} lp_fuzz_replay)
      add_test(NAME ${stem}_replay COMMAND ${stem}_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${stem})
      set_tests_properties(${stem}_replay PROPERTIES ENVIRONMENT "LAKEPIPE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    endif()
  endforeach()
endfunction()
