// Runtime error: a panic (index out of bounds); exits with status 101.
fn main() {
    println!("before the error");
    let v: Vec<u32> = std::env::args().skip(1).map(|_| 1).collect();
    println!("{}", v[3]);
}
