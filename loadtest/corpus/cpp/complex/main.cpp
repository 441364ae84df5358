#include <iostream>

#include "matrix.hpp"

int main() {
    std::size_t n;
    std::cin >> n;
    kiln::Matrix<long long> a(n, [](std::size_t i, std::size_t j) { return static_cast<long long>((i * j + i + j) % 7); });
    auto cube = kiln::Power<kiln::Matrix<long long>, 3>::of(a);
    auto summary = kiln::summarize(std::pair<const char*, long long>{"trace", cube.trace()},
                                   std::pair<const char*, long long>{"sum", cube.total()});
    std::cout << "trace " << summary["trace"] << "\nsum " << summary["sum"] << "\n";
    return 0;
}
