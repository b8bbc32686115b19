#ifndef TEXT_H
#define TEXT_H
#include <stddef.h>

/* strops.c */
void text_reverse(char *s);
size_t text_count(const char *s, char c);
/* numops.c */
long num_parse(const char *s, int *ok);
int num_sort(int *values, size_t n);
/* util.c */
int report(const char *label, long value);
int fail(const char *why);
long fib(int n);
#endif
