/*
 * minish.c - a tiny shell for the exec-transition tests (Tests/e2e/guest.sh).
 * Each argument is a command: its words (split on spaces) are a path and its
 * arguments, run with fork + execv; minish waits for it and prints how it ended,
 * then runs the next one. Built with dyck-cc, so under `sbx run` (or installed)
 * every exec it makes goes through the exec transition of its policy's process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void run(char *line)
{
	char *argv[16];
	char *word;
	int argc = 0, status;
	pid_t pid;

	for (word = strtok(line, " "); word && argc < 15; word = strtok(NULL, " "))
		argv[argc++] = word;
	argv[argc] = NULL;
	if (!argc)
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("minish: fork");
		exit(4);
	}
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "minish: %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("minish: waitpid");
		exit(4);
	}
	if (WIFSIGNALED(status))
		printf("minish: %s: signal %d\n", argv[0], WTERMSIG(status));
	else
		printf("minish: %s: exit %d\n", argv[0], WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run(argv[i]);
	printf("minish: done\n");
	return 0;
}
