//! Empty library target: this package exists for its integration tests in `main.rs`.
