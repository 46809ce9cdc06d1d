# record_codec: tests/unit/test_record_codec.c tests the pending-record encoding of src_game;
# the test_*.c glob created the target, this adds the game daemon's source.
target_sources(test_record_codec PRIVATE ${CMAKE_SOURCE_DIR}/src_game/record_codec.c)
target_include_directories(test_record_codec PRIVATE ${CMAKE_SOURCE_DIR}/src_game)
