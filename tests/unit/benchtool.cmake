# Unit tests of bench/'s benchtool library (bt_): the CPU model, the results table and the pure
# helpers; milliseconds, no services. Included from tests/CMakeLists.txt.
add_executable(test_bt_model ${CMAKE_CURRENT_LIST_DIR}/test_bt_model.c)
target_include_directories(test_bt_model PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_bt_model PRIVATE ing_benchtool ing_warnings m)
add_test(NAME unit.bt_model COMMAND test_bt_model)
set_tests_properties(unit.bt_model PROPERTIES LABELS unit TIMEOUT 60)
