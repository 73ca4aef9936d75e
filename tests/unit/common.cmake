# Unit tests of common/ and config/: pure functions, milliseconds each (but see unit.json).
foreach(name ids codec envelope json record config crypto time)
    add_executable(test_${name} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.c)
    target_include_directories(test_${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(test_${name} PRIVATE ING_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_libraries(test_${name} PRIVATE ing_common ing_config ing_warnings)
    add_test(NAME unit.${name} COMMAND test_${name})
    set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
# The differential test of ing_json runs ~100,000 inputs through both parsers: seconds
# normally, about half a minute under the sanitizers.
set_tests_properties(unit.json PROPERTIES TIMEOUT 300)
