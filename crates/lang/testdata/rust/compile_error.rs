// Compile error: mismatched types.
fn main() {
    let x: u32 = "not a number";
    println!("{x}");
}
