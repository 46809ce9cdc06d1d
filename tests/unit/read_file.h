/* read_file: a whole text file for the unit tests that check source or docs (test_keys,
 * test_routes). */
#ifndef TESTS_READ_FILE_H
#define TESTS_READ_FILE_H

/* The file's bytes, NUL-terminated (malloc'ed: free it); fails the test if it can't be read. */
char *read_file(const char *path);

#endif
