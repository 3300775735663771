fn main() {
    std::process::exit(cargo_envref::main_cargo(std::env::args_os()));
}
