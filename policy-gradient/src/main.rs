//! The `pg` command; everything lives in `policy_gradient::cli`.
fn main() -> std::process::ExitCode {
    policy_gradient::cli::main()
}
