# arena_events: tests/unit/test_arena_events.c tests the arena's tick events -> GameStateUpdate
# lists (src_game/arena_events.c); the test_*.c glob created the target, this adds the source.
if(TARGET test_arena_events)
  target_sources(test_arena_events PRIVATE ${CMAKE_SOURCE_DIR}/src_game/arena_events.c)
  target_include_directories(test_arena_events PRIVATE ${CMAKE_SOURCE_DIR}/src_game)
endif()
