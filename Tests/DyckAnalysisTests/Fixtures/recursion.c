/* Direct and mutual recursion, with and without libc calls. */
#include <stdio.h>

int fact(int n) {
    if (n <= 1) {
        puts("base");
        return 1;
    }
    return n * fact(n - 1);
}

int is_odd(int n);

int is_even(int n) {
    if (n == 0) {
        puts("even");
        return 1;
    }
    return is_odd(n - 1);
}

int is_odd(int n) {
    if (n == 0)
        return 0;
    return is_even(n - 1);
}

/* Recursion that never reaches libc: no sites. */
int fib(int n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int pong(int n);

int ping(int n) {
    return n ? pong(n - 1) : 0;
}

int pong(int n) {
    return n ? ping(n - 1) : 1;
}

int main(int argc, char **argv) {
    printf("%d\n", fact(argc));
    printf("%d\n", is_even(argc));
    return fib(argc) + ping(argc);
}
