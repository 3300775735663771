use envref_macros::envref;

#[test]
fn reads_the_api_key() {
    // Under `cargo envref test` the variable is already set; from an IDE or plain `cargo test`
    // the in-process loader resolves it the same way.
    envref_core::loader::Loader::new()
        .dir(env!("CARGO_MANIFEST_DIR"))
        .set_missing()
        .unwrap_or_else(|e| panic!("{e}"));
    let key: String = envref!("API_KEY");
    assert_eq!(key, "sk-rust-app-demo");
}

/// `SENTRY_DSN=` in .env declares the key without a value: the optional form reads it as
/// `None` and the default form as its default, as the README says.
#[test]
fn an_empty_declared_value_is_no_value() {
    // Under `cargo envref test` .env delivers SENTRY_DSN as the empty value; plain `cargo test`
    // gets the same here.
    if std::env::var_os("SENTRY_DSN").is_none() {
        std::env::set_var("SENTRY_DSN", "");
    }
    assert_eq!(std::env::var("SENTRY_DSN").as_deref(), Ok(""));
    let dsn: Option<String> = envref!("SENTRY_DSN", optional);
    assert_eq!(dsn, None);
    let with_default: String = envref!("SENTRY_DSN", default = "https://none.invalid/0");
    assert_eq!(with_default, "https://none.invalid/0");
}
