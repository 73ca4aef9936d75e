# Unit tests of ingest/ (label "unit"): the HTTP parser, problem+json rendering and the
# skeleton identity rules. Pure functions, milliseconds each.
foreach(name gw_http gw_response gw_metrics)
    add_executable(test_${name} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.c)
    target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_link_libraries(test_${name} PRIVATE ing_gateway ing_warnings)
    add_test(NAME unit.${name} COMMAND test_${name})
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
