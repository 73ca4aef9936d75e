# Integration tests: Python (standard library) drivers against the real Kafka broker and
# PostgreSQL that deploy/local/stack starts (tests/run starts them), and this build's binaries.
find_program(PYTHON3 python3 REQUIRED)
foreach(name end_to_end bench_smoke wk_statuses wk_concurrency wk_faults gw_openapi gw_identity gw_intake
        gw_http stack_db)
    add_test(NAME integration.${name}
             COMMAND ${PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/test_${name}.py)
    set_tests_properties(integration.${name} PROPERTIES
        LABELS integration
        TIMEOUT 600
        RESOURCE_LOCK stack
        ENVIRONMENT "ING_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
endforeach()
