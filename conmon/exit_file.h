/*
 * exit_file: the container's exit status, written atomically (a temp file
 * beside it, fsync, rename) so a reader sees nothing or the whole status.
 * Content: the exit code as decimal ("137" for SIGKILL: 128 + signal).
 */
#pragma once

int exit_file_write(const char *path, int code);
int exit_code_from_status(int wait_status);
