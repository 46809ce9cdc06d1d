/* ref_utf8: an independent reference for UTF-8 checks (test_pb and fuzz_packet compare
 * common/pb.c's validation against it). */
#ifndef TESTS_REF_UTF8_H
#define TESTS_REF_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..n) is well-formed UTF-8 (the byte sequences of Unicode table 3-7), else 0. */
int ref_utf8_valid(const uint8_t *s, size_t n);

#endif
