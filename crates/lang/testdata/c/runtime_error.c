/* Runtime error: exit(3) after a message on stderr. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("before the error\n");
    fprintf(stderr, "fatal: something went wrong\n");
    exit(3);
}
