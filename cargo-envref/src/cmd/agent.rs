//! `envref __agent` (hidden): the vault agent's process, started by `envref vault unlock`.
//! Everything it does is in `envref_core::agent`.

/// Serve until the agent holds no key; errors go to stdout, where `vault unlock` reads the
/// agent's first line.
pub fn run() -> i32 {
    match envref_core::agent::serve() {
        Ok(()) => 0,
        Err(e) => {
            // What `agent::start` reads: why, then how to fix it.
            println!("{}", e.message);
            if let Some(hint) = &e.hint {
                println!("{hint}");
            }
            1
        }
    }
}
