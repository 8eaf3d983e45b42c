//! Test harnesses shared by the service tests: a real Prometheus, the service on a
//! real socket, and models of what Argo Rollouts and Flagger conclude from answers.

pub mod clients;
pub mod fake_prometheus;
pub mod prometheus;
pub mod service;
