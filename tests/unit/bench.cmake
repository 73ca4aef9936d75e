# Unit tests of bench/ (the load generator's library): pure functions, milliseconds each.
foreach(name hist sched http gen workload)
    add_executable(test_lg_${name} ${CMAKE_CURRENT_LIST_DIR}/test_lg_${name}.c)
    target_include_directories(test_lg_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(test_lg_${name} PRIVATE ING_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(test_lg_${name} PRIVATE ing_bench ing_warnings)
    add_test(NAME unit.lg_${name} COMMAND test_lg_${name})
    set_tests_properties(unit.lg_${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
