# modrun: the module runner (tools/modrun.c) on fixed modules and a script (tests/unit/modrun/).
if(TARGET modrun)
  add_test(NAME unit_modrun COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/modrun/run.sh $<TARGET_FILE:modrun>)
  set_tests_properties(unit_modrun PROPERTIES TIMEOUT 60 LABELS unit)
endif()
