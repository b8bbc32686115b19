/* fork: the child runs instrumented code and exits with a status the parent reports. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int child_work(int n) {
    printf("child %d\n", n);
    fflush(stdout);
    return n + 1;
}

int main(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) exit(child_work(4));
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
