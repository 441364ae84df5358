#include <stdio.h>

#include "matrix.h"

int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    MatrixLL a = MatrixLL_new(n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) *MatrixLL_at(&a, i, j) = (i * j + i + j) % 7;
    MatrixLL sq = MatrixLL_mul(&a, &a);
    MatrixLL cube = MatrixLL_mul(&sq, &a);
    printf("trace %lld\nsum %lld\n", MatrixLL_trace(&cube), MatrixLL_total(&cube));
    MatrixLL_free(&a);
    MatrixLL_free(&sq);
    MatrixLL_free(&cube);
    return 0;
}
