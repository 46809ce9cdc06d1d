# protocol_doc: tests/unit/test_protocol_doc.c checks docs/protocol.md against the encoders
# (protobuf-c, the frame codec, libwslay's frame layer), proto/ and the gateway's route table;
# with --print it prints the page's byte dumps (and, given a certificate, TLS captures made with
# OpenSSL memory BIOs). The test_*.c glob created the target; this adds what it needs.
find_path(WSLAY_INCLUDE_DIR wslay/wslay.h REQUIRED)
find_library(WSLAY_LIBRARY wslay REQUIRED)
pkg_check_modules(OPENSSL_DOC REQUIRED IMPORTED_TARGET openssl)
target_sources(test_protocol_doc PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway/route.c)
target_include_directories(test_protocol_doc PRIVATE ${CMAKE_SOURCE_DIR}/src_gateway
                           ${WSLAY_INCLUDE_DIR})
target_link_libraries(test_protocol_doc PRIVATE ${WSLAY_LIBRARY} PkgConfig::OPENSSL_DOC)
target_compile_definitions(test_protocol_doc PRIVATE
                           PROTOCOL_MD="${CMAKE_SOURCE_DIR}/docs/protocol.md")
set_tests_properties(unit_protocol_doc PROPERTIES LABELS "unit;docs")
