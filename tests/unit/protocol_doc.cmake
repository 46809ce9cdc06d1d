# protocol_doc: tests/unit/test_protocol_doc.c checks docs/protocol.md against the encoders
# (protobuf-c, the frame codec, libwslay's frame layer), proto/ and the gateway's route table;
# with --print it prints the page's byte dumps (and, given a certificate, TLS captures made with
# OpenSSL memory BIOs). The test_*.c glob created the target (linked to the common libraries:
# cluster_net brings OpenSSL and libwslay); this adds the route table and the page's path.
target_sources(test_protocol_doc PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/route.c)
target_include_directories(test_protocol_doc PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway)
target_compile_definitions(test_protocol_doc PRIVATE
                           PROTOCOL_MD="${CMAKE_SOURCE_DIR}/docs/protocol.md")
set_tests_properties(unit_protocol_doc PROPERTIES LABELS "unit;docs")
