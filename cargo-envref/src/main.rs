fn main() {
    // First, while this is the only thread: no program envref starts inherits its credentials.
    envref_core::backend::passphrase::take_credentials_from_environment();
    std::process::exit(cargo_envref::main_envref(std::env::args_os()));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Subcommands are built only when invoked (`defer`); building the whole tree, as help
    /// and completions do, must still give a consistent command line.
    #[test]
    fn the_whole_command_tree_is_consistent() {
        let mut cli = cargo_envref::Cli::command();
        cli.build();
        cli.clone().debug_assert();
        let resolve = cli.find_subcommand("resolve").expect("resolve");
        assert!(resolve.get_arguments().any(|a| a.get_id() == "format"));
        let set = cli
            .find_subcommand("secret")
            .and_then(|s| s.find_subcommand("set"))
            .expect("secret set");
        assert!(set.get_arguments().any(|a| a.get_id() == "backend"));
    }
}
