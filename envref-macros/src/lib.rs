//! `envref!("KEY")`: arrives with the cargo-integration work; the crate exists now so the
//! workspace layout is the one DESIGN.md describes.
