#include <iostream>

int main() {
    std::ios::sync_with_stdio(false);
    char buf[65536];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
        std::cout.write(buf, std::cin.gcount());
    }
    return 0;
}
