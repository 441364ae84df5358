#include <iostream>

int main() {
    std::cout << "Hello, Kiln!" << std::endl;
    return 0;
}
