/* The attack suite's no-false-positive program: it really uses the libc functions
 * whose system-call sets are easy to get wrong (issue 14, "No false positives"):
 * dlopen/dlsym (the loader maps a library: mmap/mprotect with PROT_EXEC), system,
 * popen/pclose, posix_spawn + waitpid, getaddrinfo (NSS: files, maybe more
 * dlopen), openlog/syslog/closelog (a socket to /dev/log, whether or not it exists),
 * plus threads, fork, stdio, and a return from main with output still buffered
 * (the exit path's flush). Its output is deterministic: the suite compares it,
 * byte for byte, with the native run's.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

extern char **environ;

static void use_dlopen(void)
{
	void *m = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
	if (m == NULL) {
		printf("dlopen: failed: %s\n", dlerror());
		return;
	}
	double (*cosine)(double) = (double (*)(double))dlsym(m, "cos");
	if (cosine == NULL)
		printf("dlsym: cos not found\n");
	else
		printf("dlopen: cos(0.5) = %.6f\n", cosine(0.5));
	dlclose(m);
}

static void use_system(void)
{
	fflush(stdout);
	int st = system("echo system: hello from sh");
	printf("system: status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void use_popen(void)
{
	char buf[128];
	FILE *p = popen("echo popen: a line through a pipe", "r");
	if (p == NULL) {
		printf("popen: failed\n");
		return;
	}
	while (fgets(buf, sizeof buf, p) != NULL)
		fputs(buf, stdout);
	printf("pclose: status %d\n", pclose(p));
}

static void use_posix_spawn(void)
{
	char *argv[] = { "echo", "posix_spawn: a child", NULL };
	pid_t pid;
	int st;
	fflush(stdout);
	int err = posix_spawn(&pid, "/bin/echo", NULL, NULL, argv, environ);
	if (err != 0) {
		printf("posix_spawn: failed (%d)\n", err);
		return;
	}
	if (waitpid(pid, &st, 0) != pid)
		printf("waitpid: failed\n");
	else
		printf("posix_spawn: status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void use_getaddrinfo(void)
{
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	int err = getaddrinfo("localhost", "80", &hints, &res);
	if (err != 0) {
		printf("getaddrinfo: %s\n", gai_strerror(err));
		return;
	}
	char text[INET_ADDRSTRLEN];
	struct sockaddr_in *in = (struct sockaddr_in *)res->ai_addr;
	inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
	printf("getaddrinfo: localhost is %s port %d\n", text, ntohs(in->sin_port));
	freeaddrinfo(res);
}

static void use_syslog(void)
{
	openlog("dyck-benign", LOG_PID | LOG_NDELAY, LOG_USER);
	syslog(LOG_INFO, "attack suite: benign program, %d", 42);
	closelog();
	printf("syslog: done\n");
}

static long sums[2];

static void *worker(void *arg)
{
	long k = (long)arg, s = 0;
	for (long i = 1; i <= 1000 * (k + 1); i++)
		s += i;
	sums[k] = s;
	return NULL;
}

static void use_threads(void)
{
	pthread_t t[2];
	for (long k = 0; k < 2; k++)
		if (pthread_create(&t[k], NULL, worker, (void *)k) != 0) {
			printf("pthread_create: failed\n");
			return;
		}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	printf("threads: %ld %ld\n", sums[0], sums[1]);
}

static void use_fork(void)
{
	int st;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("fork: failed\n");
		return;
	}
	if (pid == 0) {
		printf("fork: the child\n");
		exit(3);                        /* flushes the child's copy of stdout */
	}
	waitpid(pid, &st, 0);
	printf("fork: child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(void)
{
	printf("benign: start\n");
	use_dlopen();
	use_system();
	use_popen();
	use_posix_spawn();
	use_getaddrinfo();
	use_syslog();
	use_threads();
	use_fork();
	/* Left in stdout's buffer: written by exit() after main returns. */
	printf("benign: done\n");
	return 0;
}
