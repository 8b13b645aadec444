//! End-to-end HTTP tests, one binary (as ripgrep's `tests/tests.rs`): every route, its status
//! codes and error bodies, on SQLite and, when their URLs are set, PostgreSQL and MySQL.

mod support;

mod acl;
mod auth;
mod blog;
mod change_stream;
mod crud;
mod errors;
mod faults;
mod filter_model;
mod filters;
mod fuzz;
mod hooks;
mod loopback3;
mod openapi;
mod processes;
mod relations;
mod repository;
mod robustness;
mod routes;
