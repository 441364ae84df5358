mod matrix;

use std::io::Read;

use matrix::Matrix;

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    let n: usize = input.trim().parse().unwrap();
    let a: Matrix<i64> = Matrix::from_fn(n, |i, j| ((i * j + i + j) % 7) as i64);
    let cube = &(&a * &a) * &a;
    println!("trace {}", cube.trace());
    println!("sum {}", cube.total());
}
