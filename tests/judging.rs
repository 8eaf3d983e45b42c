//! End-to-end judgements through `serin_core::judge`.
