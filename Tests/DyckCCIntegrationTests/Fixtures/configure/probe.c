#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

int main (void) {
#ifdef HAVE_STRDUP
    char *copy = strdup ("configured");
#else
    char *copy = "configured (no strdup)";
#endif
    printf ("%s: long is %d bytes, cos(0) = %.1f\n", copy, SIZEOF_LONG, cos (0.0));
    return 0;
}
