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
