fn main() {
    println!("Hello, Kiln!");
}
