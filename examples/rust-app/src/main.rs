//! Run it with `cargo envref run -p rust-app`, after `envref -C examples/rust-app allow` (its
//! `.envref.yaml` names the demo plugin, which envref runs only in a project you allowed).

use envref_macros::envref;

fn main() {
    // Compile-time config, emitted by build.rs from .env (no secret ever takes this path).
    let port = env!("APP_PORT");
    // Run-time reads, checked at compile time against the keys .env declares.
    let name: String = envref!("APP_NAME");
    let api_key: String = envref!("API_KEY");
    let region: String = envref!("REGION", default = "eu-west-1");
    let sentry: Option<String> = envref!("SENTRY_DSN", optional);
    println!("APP_NAME={name}");
    println!("APP_PORT={port}");
    println!("API_KEY={api_key}");
    println!("REGION={region}");
    println!("SENTRY_DSN={}", sentry.as_deref().unwrap_or("(unset)"));
}
