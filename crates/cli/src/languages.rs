//! `kiln languages [--json]`.

use clap::Args;

#[derive(Args)]
pub struct LanguagesArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: LanguagesArgs) -> anyhow::Result<i32> {
    let catalog = kiln_lang::Catalog::detect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&catalog.to_json())?);
    } else {
        print!("{}", catalog.render_table());
    }
    Ok(0)
}
