//! The package of the typed RPC compile tests; see `typed_ui.rs` and `README.md`.
