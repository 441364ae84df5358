// A generic square matrix over any semiring-like T; included by main.cpp.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

namespace kiln {

template <typename T>
concept Numeric = std::is_arithmetic_v<T>;

template <Numeric T>
class Matrix {
public:
    Matrix(std::size_t n, const std::function<T(std::size_t, std::size_t)>& cell) : n_(n), cells_(n * n) {
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) at(i, j) = cell(i, j);
    }
    T& at(std::size_t i, std::size_t j) { return cells_[i * n_ + j]; }
    const T& at(std::size_t i, std::size_t j) const { return cells_[i * n_ + j]; }
    std::size_t size() const { return n_; }

    template <Numeric U>
    auto operator*(const Matrix<U>& other) const -> Matrix<std::common_type_t<T, U>> {
        using R = std::common_type_t<T, U>;
        return Matrix<R>(n_, [&](std::size_t i, std::size_t j) {
            R s{};
            for (std::size_t k = 0; k < n_; ++k) s += at(i, k) * other.at(k, j);
            return s;
        });
    }
    T trace() const {
        T s{};
        for (std::size_t i = 0; i < n_; ++i) s += at(i, i);
        return s;
    }
    T total() const { return std::accumulate(cells_.begin(), cells_.end(), T{}); }

private:
    std::size_t n_;
    std::vector<T> cells_;
};

template <typename M, std::size_t P>
struct Power {
    static M of(const M& m) { return Power<M, P - 1>::of(m) * m; }
};
template <typename M>
struct Power<M, 1> {
    static M of(const M& m) { return m; }
};

template <typename... Ts>
std::map<std::string, long long> summarize(const std::pair<const char*, Ts>&... items) {
    std::map<std::string, long long> out;
    (out.emplace(items.first, static_cast<long long>(items.second)), ...);
    return out;
}

}  // namespace kiln
