/* Struct copies become llvm.memcpy: intrinsics are not libc events. */
#include <stdio.h>
#include <string.h>

struct big {
    int v[32];
};

struct big g;

int main(void) {
    struct big a = g;
    struct big b;
    b = a;
    memset(&a, 0, sizeof a);
    printf("%d %d\n", b.v[3], a.v[1]);
    return 0;
}
