# fence: tests/unit/test_fence.c tests which BIND_GAME the gateway applies; the test_*.c glob
# created the target, this adds the gateway's source.
target_sources(test_fence PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/fence.c)
target_include_directories(test_fence PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway)
