//! Serin's integration tests, one binary with a module per area.

mod contracts;
mod fixtures;
mod fuzz;
mod golden_eprocess;
mod golden_r;
mod golden_scipy;
mod judging;
mod kayenta_classifier;
mod kayenta_scorer;
mod kayenta_statistics;
mod nab_evaluation;
mod properties;
mod reliability;
mod rollout_end_to_end;
mod rollout_nginx;
mod serin_judge;
mod service_api;
mod source_failures;
mod support;
mod tolerances;
