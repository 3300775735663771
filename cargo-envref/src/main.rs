fn main() {
    std::process::exit(cargo_envref::main_envref(std::env::args_os()));
}
