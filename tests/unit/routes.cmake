# routes: tests/unit/test_routes.c checks that a packet type's three homes agree (proto's
# PacketType, the gateway's route table, the lobby's and the game daemon's dispatch tables);
# the test_*.c glob created the target, this adds the route table and the daemons' sources.
if(TARGET test_routes)
  target_sources(test_routes PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/route.c)
  target_include_directories(test_routes PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway)
  target_compile_definitions(test_routes PRIVATE
                             LOBBY_MAIN_C="${CMAKE_SOURCE_DIR}/src_lobby/main.c"
                             GAME_MAIN_C="${CMAKE_SOURCE_DIR}/src_game/main.c")
endif()
