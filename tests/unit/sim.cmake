# sim: the unit test of src_game/sim.c (the pure match simulation). test_sim.c is registered
# by the test_*.c glob in CMakeLists.txt; the module itself lives in src_game/, so add it here.
if(TARGET test_sim)
  target_sources(test_sim PRIVATE ${CMAKE_SOURCE_DIR}/src_game/sim.c)
  target_include_directories(test_sim PRIVATE ${CMAKE_SOURCE_DIR}/src_game)
endif()
