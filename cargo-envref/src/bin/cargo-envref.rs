fn main() {
    // First, while this is the only thread: no program envref starts inherits its credentials.
    envref_core::backend::passphrase::take_credentials_from_environment();
    std::process::exit(cargo_envref::main_cargo(std::env::args_os()));
}
