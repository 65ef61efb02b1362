/* Whole-file reads and writes for the link's test tools (link-forge, link-peer). */
#ifndef TESTS_LINK_TOOL_IO_H
#define TESTS_LINK_TOOL_IO_H

#include <stddef.h>
#include <stdint.h>

/* The file's bytes in *out (malloc'd), 0; or -1. */
int tool_read_all(const char *path, uint8_t **out, size_t *len);
/* 0 once every byte is written and the file closed; or -1. */
int tool_write_all(const char *path, const uint8_t *data, size_t len);

#endif
