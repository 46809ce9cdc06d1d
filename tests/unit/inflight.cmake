# inflight: tests/unit/test_inflight.c tests the gateway's ring of requests in flight
# (src_gateway/inflight.c); the test_*.c glob created the target, this adds the gateway's source.
if(TARGET test_inflight)
  target_sources(test_inflight PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/inflight.c)
  target_include_directories(test_inflight PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway)
endif()
