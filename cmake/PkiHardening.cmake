# Warnings and hardening applied to every target of the project.
add_compile_options(
  -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wno-unused-parameter
  -fstack-protector-strong -fstack-clash-protection -fno-strict-aliasing)
if(PKI_WERROR)
  add_compile_options(-Werror)
endif()

set(CMAKE_POSITION_INDEPENDENT_CODE ON)
add_link_options(-pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(PKI_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -O1)
  add_link_options(-fsanitize=address,undefined)
else()
  # _FORTIFY_SOURCE needs optimisation and conflicts with ASan's interceptors.
  if(CMAKE_C_COMPILER_ID STREQUAL "GNU" AND CMAKE_C_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
    add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
  else()
    add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
  endif()
endif()

if(PKI_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PKI_FUZZ needs clang (CC=clang)")
  endif()
  # Coverage instrumentation everywhere, so the fuzzers see into the library.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
