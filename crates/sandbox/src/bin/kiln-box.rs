//! A bare sandbox helper binary, for the sandbox crate's own tests and
//! benchmarks (the `kiln` binary embeds the same helper as `kiln __box`).

fn main() {
    kiln_sandbox::helper::run_if_helper();
    eprintln!(
        "kiln-box is Kiln's sandbox helper; it is started by Kiln with `{}`",
        kiln_sandbox::helper::HELPER_ARG
    );
    std::process::exit(2);
}
