# keys: tests/unit/test_keys.c checks the Redis key builders (common/keys.c) against their names
# and against docs/redis-keys.md, which must list each.
if(TARGET test_keys)
  target_compile_definitions(test_keys PRIVATE REDIS_KEYS_MD="${CMAKE_SOURCE_DIR}/docs/redis-keys.md")
endif()
