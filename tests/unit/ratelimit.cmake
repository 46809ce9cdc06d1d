# ratelimit: tests/unit/test_ratelimit.c tests the gateway's token bucket; the test_*.c glob
# created the target, this adds the gateway's source.
target_sources(test_ratelimit PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/ratelimit.c)
target_include_directories(test_ratelimit PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway)
