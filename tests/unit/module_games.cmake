# module_games: the unit test of src_bot/module_games.c (the bot's pure players of the example
# game modules). test_module_games.c is registered by the test_*.c glob in CMakeLists.txt.
if(TARGET test_module_games)
  target_sources(test_module_games PRIVATE ${CMAKE_SOURCE_DIR}/src_bot/module_games.c)
  target_include_directories(test_module_games PRIVATE ${CMAKE_SOURCE_DIR}/src_bot)
endif()
