/* errno set by a failing libc call survives the markers of later calls: the marker
   system calls fail with -ENOSYS in rax, never through libc's errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static size_t measure(const char *s) { return strlen(s); }

static int depth(int n) {
    if (n == 0) return (int)measure("leaf");
    return depth(n - 1) + (int)measure("x");
}

int main(void) {
    int fd = open("/nonexistent/sbx-instrument-test", O_RDONLY);
    /* Instrumented sites and libc calls that leave errno alone. */
    int d = depth(3);
    char buffer[16];
    memset(buffer, 0, sizeof buffer);
    memcpy(buffer, "abc", 3);
    int saved = errno;
    printf("fd=%d errno=%d (%s) d=%d buffer=%s\n", fd, saved, saved == ENOENT ? "ENOENT" : "other", d, buffer);
    return saved == ENOENT ? 0 : 1;
}
