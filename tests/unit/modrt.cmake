# modrt: the unit test of src_game/modrt.c (the Lua runtime of game modules, its sandbox,
# budget and memory cap). The module lives in src_game/, so add it here.
if(TARGET test_modrt)
  target_sources(test_modrt PRIVATE ${CMAKE_SOURCE_DIR}/src_game/modrt.c)
  target_include_directories(test_modrt PRIVATE ${CMAKE_SOURCE_DIR}/src_game)
  target_link_libraries(test_modrt PRIVATE PkgConfig::LUA)
endif()
