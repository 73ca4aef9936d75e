# Unit tests of workers/ (label "unit"): pure functions and the librdkafka mock cluster,
# milliseconds each. wk_feed is a test-only producer of records for manual and integration
# runs: built, not a test.
foreach(name wk_sqlstate wk_batch wk_dlq wk_compress wk_process wk_rules wk_keyfile wk_pgarray
        wk_pgcopy wk_metrics)
    add_executable(test_${name} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.c)
    target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(test_${name} PRIVATE ING_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(test_${name} PRIVATE ing_workers ing_warnings)
    add_test(NAME unit.${name} COMMAND test_${name})
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

add_executable(wk_feed ${CMAKE_CURRENT_LIST_DIR}/wk_feed.c)
target_link_libraries(wk_feed PRIVATE ing_common PkgConfig::RDKAFKA ing_warnings)
