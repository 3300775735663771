//! Build-script helper for envref. The emitting API arrives with the cargo-integration work;
//! this crate exists now so the workspace layout is the one DESIGN.md describes.
