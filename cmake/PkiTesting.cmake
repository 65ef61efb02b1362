# Helpers to register tests with ctest. Labels: unit, integration, e2e, browser, fuzz.
#
#   pki_add_unit_test(NAME SOURCES a.c b.c [LIBS x y])
#       a cmocka test program, label "unit".
#   pki_add_py_test(NAME SCRIPT path.py LABELS integration [RESOURCE_LOCK pcscd] [TIMEOUT s])
#       a python3 test (Debian's /usr/bin/python3, so python3-cryptography is there).
#   pki_add_fuzzer(NAME SOURCES fuzz.c [LIBS x] [CORPUS dir])
#       a libFuzzer target, built and registered only when PKI_FUZZ is on; label "fuzz".

if(EXISTS /usr/bin/python3)
  set(PKI_PYTHON /usr/bin/python3)
else()
  find_program(PKI_PYTHON python3 REQUIRED)
endif()

function(pki_add_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE pkicore PkgConfig::CMOCKA ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

function(pki_add_py_test name)
  cmake_parse_arguments(T "" "SCRIPT;TIMEOUT" "LABELS;RESOURCE_LOCK" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${PKI_PYTHON} -u ${T_SCRIPT})
  set_tests_properties(${name} PROPERTIES
    LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/harness;PKI_BUILD_DIR=${CMAKE_BINARY_DIR};PKI_SOURCE_DIR=${CMAKE_SOURCE_DIR};PKI_SANITIZE=${PKI_SANITIZE}")
  if(T_RESOURCE_LOCK)
    set_tests_properties(${name} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
endfunction()

function(pki_add_fuzzer name)
  cmake_parse_arguments(T "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT PKI_FUZZ)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  file(MAKE_DIRECTORY ${corpus})
  set(seeds "")
  if(T_CORPUS)
    set(seeds ${T_CORPUS})
  endif()
  add_test(NAME ${name}
           COMMAND ${name} -max_total_time=${PKI_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
                   -print_final_stats=1 ${corpus} ${seeds})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 900)
endfunction()
