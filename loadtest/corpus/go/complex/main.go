package main

import "fmt"

// Number is what a Matrix can hold.
type Number interface {
	~int | ~int32 | ~int64 | ~float64
}

// Matrix is a generic square matrix.
type Matrix[T Number] struct {
	n     int
	cells []T
}

func NewMatrix[T Number](n int, cell func(i, j int) T) *Matrix[T] {
	m := &Matrix[T]{n: n, cells: make([]T, n*n)}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			m.cells[i*n+j] = cell(i, j)
		}
	}
	return m
}

func (m *Matrix[T]) At(i, j int) T { return m.cells[i*m.n+j] }

func (m *Matrix[T]) Mul(o *Matrix[T]) *Matrix[T] {
	return NewMatrix(m.n, func(i, j int) T {
		var s T
		for k := 0; k < m.n; k++ {
			s += m.At(i, k) * o.At(k, j)
		}
		return s
	})
}

func Reduce[T Number](xs []T, f func(T, T) T) T {
	var acc T
	for _, x := range xs {
		acc = f(acc, x)
	}
	return acc
}

func (m *Matrix[T]) Trace() T {
	var s T
	for i := 0; i < m.n; i++ {
		s += m.At(i, i)
	}
	return s
}

func main() {
	var n int
	fmt.Scan(&n)
	a := NewMatrix(n, func(i, j int) int64 { return int64((i*j + i + j) % 7) })
	cube := a.Mul(a).Mul(a)
	fmt.Println("trace", cube.Trace())
	fmt.Println("sum", Reduce(cube.cells, func(x, y int64) int64 { return x + y }))
}
