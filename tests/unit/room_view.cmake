# room_view: tests/unit/test_room_view.c tests the lobby's decoding of lobby.lua's room replies
# (src_lobby/room_view.c); the test_*.c glob created the target, this adds the lobby's source.
if(TARGET test_room_view)
  target_sources(test_room_view PRIVATE ${CMAKE_SOURCE_DIR}/src_lobby/room_view.c)
  target_include_directories(test_room_view PRIVATE ${CMAKE_SOURCE_DIR}/src_lobby)
endif()
