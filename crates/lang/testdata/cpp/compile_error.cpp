// Compile error: assigning a string literal to an int.
#include <iostream>

int main() {
    int x = "not a number";
    std::cout << x << std::endl;
    return 0;
}
