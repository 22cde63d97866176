//! The `failforward` binary: all behaviour lives in the library (`cli::main`).

fn main() -> std::process::ExitCode {
    failforward::cli::main()
}
