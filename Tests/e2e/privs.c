/*
 * privs: what a root program can do, for the tests of `sbx run`'s privileges
 * (Tests/e2e/guest.sh): PR_SET_NO_NEW_PRIVS and --cap-drop.
 *
 *   privs status              print NoNewPrivs and CapEff of /proc/self/status
 *   privs setuid HELPER       become uid 65534, then exec HELPER (a setuid-root
 *                             euid program: natively it prints "euid 0")
 *   privs powers FILE PID     as root: open FILE (owned by another user, mode
 *                             0600), chown ./mine to 65534, kill(PID, 0) (a
 *                             process of another user); prints
 *                             "open E chown E kill E" (errno values, 0 = done)
 *   privs euid                print "euid N" (the setuid helper)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int status(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "CapEff:", 7))
			fputs(line, stdout);
	fclose(f);
	return 0;
}

static int powers(const char *file, const char *pid)
{
	int fd, e_open = 0, e_chown = 0, e_kill = 0;

	fd = open(file, O_RDONLY);
	if (fd < 0)
		e_open = errno;
	else
		close(fd);
	if (chown("mine", 65534, 65534) != 0)
		e_chown = errno;
	if (kill(atoi(pid), 0) != 0)
		e_kill = errno;
	printf("open %d chown %d kill %d\n", e_open, e_chown, e_kill);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "status"))
		return status();
	if (argc == 2 && !strcmp(argv[1], "euid")) {
		printf("euid %d\n", (int)geteuid());
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "setuid")) {
		if (setuid(65534) != 0) {
			perror("setuid");
			return 1;
		}
		execl(argv[2], argv[2], "euid", (char *)NULL);
		perror("execl");
		return 1;
	}
	if (argc == 4 && !strcmp(argv[1], "powers"))
		return powers(argv[2], argv[3]);
	fprintf(stderr, "usage: privs status | setuid HELPER | powers FILE PID | euid\n");
	return 2;
}
