#include <stdio.h>

int main(void) {
    puts("Hello, Kiln!");
    return 0;
}
