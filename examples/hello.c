#include <stdio.h>

int main(void) {
    printf("Hello, Kiln!\n");
    return 0;
}
