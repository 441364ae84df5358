//! A generic square matrix over any numeric type; `mod matrix;` of main.rs.

use std::iter::Sum;
use std::ops::{Add, Mul};

pub trait Numeric: Copy + Default + Add<Output = Self> + Mul<Output = Self> + Sum<Self> {}
impl<T: Copy + Default + Add<Output = T> + Mul<Output = T> + Sum<T>> Numeric for T {}

#[derive(Clone, Debug)]
pub struct Matrix<T: Numeric> {
    n: usize,
    cells: Vec<T>,
}

impl<T: Numeric> Matrix<T> {
    pub fn from_fn(n: usize, cell: impl Fn(usize, usize) -> T) -> Self {
        let cells = (0..n * n).map(|k| cell(k / n, k % n)).collect();
        Matrix { n, cells }
    }
    pub fn at(&self, i: usize, j: usize) -> T {
        self.cells[i * self.n + j]
    }
    pub fn trace(&self) -> T {
        (0..self.n).map(|i| self.at(i, i)).sum()
    }
    pub fn total(&self) -> T {
        self.cells.iter().copied().sum()
    }
}

impl<'a, T: Numeric> Mul for &'a Matrix<T> {
    type Output = Matrix<T>;
    fn mul(self, other: &'a Matrix<T>) -> Matrix<T> {
        Matrix::from_fn(self.n, |i, j| (0..self.n).map(|k| self.at(i, k) * other.at(k, j)).sum())
    }
}
