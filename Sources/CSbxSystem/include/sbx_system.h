/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The GNU extensions SbxSystem needs, which Swift's Glibc module does not show
 * (it is built without _GNU_SOURCE).
 */
#ifndef SBX_SYSTEM_H
#define SBX_SYSTEM_H

#include <spawn.h>

/* pipe2(fds, O_CLOEXEC): a pipe no concurrently spawned child inherits. */
int sbx_pipe_cloexec(int fds[2]);

/* posix_spawn_file_actions_addchdir_np (glibc 2.29). */
int sbx_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
