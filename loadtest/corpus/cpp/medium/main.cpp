#include <iostream>
#include <numeric>
#include <vector>

int main() {
    int n;
    std::cin >> n;
    std::vector<bool> composite(n + 1, false);
    std::vector<long long> primes;
    for (int i = 2; i <= n; ++i) {
        if (composite[i]) continue;
        primes.push_back(i);
        for (long long j = 1LL * i * i; j <= n; j += i) composite[j] = true;
    }
    std::cout << primes.size() << ' ' << std::accumulate(primes.begin(), primes.end(), 0LL) << '\n';
    return 0;
}
