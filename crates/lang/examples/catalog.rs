//! Prints what detection finds on this host.
//!
//! `cargo run -p kiln-lang --example catalog` prints the `kiln languages`
//! table; `-- --json` its JSON; `-- --full` every language record in full
//! (commands, env, mounts), as the engine receives them.

use kiln_lang::Catalog;

fn main() {
    let catalog = Catalog::detect();
    match std::env::args().nth(1).as_deref() {
        Some("--json") => println!("{:#}", catalog.to_json()),
        Some("--full") => println!("{}", serde_json::to_string_pretty(&catalog).unwrap()),
        _ => print!("{}", catalog.render_table()),
    }
}
