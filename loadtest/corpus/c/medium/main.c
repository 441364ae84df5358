#include <stdio.h>
#include <stdlib.h>

int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    char *sieve = calloc(n + 1, 1);
    long long count = 0, sum = 0;
    for (int i = 2; i <= n; i++) {
        if (sieve[i]) continue;
        count++;
        sum += i;
        for (long long j = (long long)i * i; j <= n; j += i) sieve[j] = 1;
    }
    printf("%lld %lld\n", count, sum);
    free(sieve);
    return 0;
}
