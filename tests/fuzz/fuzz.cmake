# libFuzzer targets (clang only; not run by ctest). fuzz_envelope holds ing_json and the jansson
# path together (tests/fuzz/fuzz_envelope.c). For coverage of the library itself, configure
# with -DING_FUZZ=ON (instruments ing_common) and the sanitizers:
#   CC=clang cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DING_SANITIZE=ON -DING_FUZZ=ON
#   cmake --build build/fuzz --target fuzz_envelope
#   mkdir -p build/fuzz/corpus && build/fuzz/tests/fuzz_envelope -dict=tests/fuzz/envelope.dict \
#       -max_total_time=300 build/fuzz/corpus tests/fuzz/corpus/envelope
option(ING_FUZZ "Instrument ing_common for libFuzzer (clang)" OFF)
if(CMAKE_C_COMPILER_ID STREQUAL Clang)
    if(ING_FUZZ)
        target_compile_options(ing_common PRIVATE -fsanitize=fuzzer-no-link)
    endif()
    add_executable(fuzz_envelope ${CMAKE_CURRENT_LIST_DIR}/fuzz_envelope.c)
    target_include_directories(fuzz_envelope PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
    target_compile_options(fuzz_envelope PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_envelope PRIVATE -fsanitize=fuzzer)
    target_compile_definitions(fuzz_envelope PRIVATE FUZZ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(fuzz_envelope PRIVATE ing_common PkgConfig::JANSSON ing_warnings)
endif()
