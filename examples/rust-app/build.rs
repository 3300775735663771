fn main() {
    // Non-secret values become compile-time env (env!("APP_PORT")); references never do.
    envref_build::emit();
}
