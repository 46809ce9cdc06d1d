# hist: unit test of common/hist.c. tests/unit/CMakeLists.txt may already have registered
# test_hist.c through its test_*.c glob; then this file adds nothing.
if(NOT TARGET test_hist)
  add_executable(test_hist ${CMAKE_CURRENT_LIST_DIR}/test_hist.c)
  target_compile_options(test_hist PRIVATE ${CLUSTER_WARNINGS})
  target_include_directories(test_hist PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(test_hist PRIVATE cluster_base)
  add_test(NAME unit_hist COMMAND test_hist)
  set_tests_properties(unit_hist PROPERTIES TIMEOUT 60 LABELS unit)
endif()
