// Runtime error: an uncaught std::runtime_error; std::terminate aborts the
// process, so it dies of SIGABRT (signal 6) rather than exiting with a status.
#include <iostream>
#include <stdexcept>

int main() {
    std::cout << "before the error" << std::endl;
    throw std::runtime_error("boom");
}
