// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "sbx_system.h"

int sbx_pipe_cloexec(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

int sbx_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path)
{
	return posix_spawn_file_actions_addchdir_np(actions, path);
}
