//! See tests/support for the harness.
mod support;
