//! `include_dir!` sees a file's changes but not files added to or removed
//! from `dist/` (a rebuilt console has new content-hashed names): rebuild
//! this crate whenever anything under `dist/` changes.
fn main() {
    println!("cargo:rerun-if-changed=dist");
}
