/* A musttail call at a site: its TAIL marker replaces the frame, so the site stays,
   and so does the site that calls the function holding it. */
#include <stdio.h>

static int leaf(int x) {
    return puts("leaf") + x;
}

static int forward(int x) {
    __attribute__((musttail)) return leaf(x);
}

int main(int argc, char **argv) {
    (void)argv;
    return forward(argc);
}
