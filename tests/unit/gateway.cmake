# Unit tests of ingest/ (label "unit"): the HTTP parser, problem+json rendering and the
# skeleton identity rules: pure functions, milliseconds each; the shared producer's lanes
# against librdkafka's mock cluster.
foreach(name gw_http gw_response gw_metrics gw_ratelimit gw_wait gw_readwant gw_inflight
             gw_producer)
    add_executable(test_${name} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.c)
    target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_link_libraries(test_${name} PRIVATE ing_gateway ing_warnings)
    add_test(NAME unit.${name} COMMAND test_${name})
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

# libFuzzer target of the HTTP parser, built only with clang (CC=clang); run it by hand:
#   build/<dir>/tests/fuzz_gw_http -max_total_time=60
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
    add_executable(fuzz_gw_http ${CMAKE_CURRENT_LIST_DIR}/fuzz_gw_http.c
                                ${PROJECT_SOURCE_DIR}/ingest/gw_http.c)
    target_include_directories(fuzz_gw_http PRIVATE ${PROJECT_SOURCE_DIR}/ingest)
    target_compile_options(fuzz_gw_http PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_gw_http PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_gw_http PRIVATE ing_warnings)
endif()

# Identity (issue 3): the orgs file and its lookups by API key and certificate fingerprint.
add_executable(test_gw_orgs ${CMAKE_CURRENT_LIST_DIR}/test_gw_orgs.c)
target_include_directories(test_gw_orgs PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_gw_orgs PRIVATE ing_gateway ing_warnings)
add_test(NAME unit.gw_orgs COMMAND test_gw_orgs)
set_tests_properties(unit.gw_orgs PROPERTIES LABELS unit TIMEOUT 60)
# ... and the identity rules (API key, certificate, loopback trust, 401/403).
add_executable(test_gw_auth ${CMAKE_CURRENT_LIST_DIR}/test_gw_auth.c)
target_include_directories(test_gw_auth PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_gw_auth PRIVATE ing_gateway ing_warnings)
add_test(NAME unit.gw_auth COMMAND test_gw_auth)
set_tests_properties(unit.gw_auth PROPERTIES LABELS unit TIMEOUT 60)
