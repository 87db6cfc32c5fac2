//! Import jobs: their records ([`store`]), fetching a scheduled run's file
//! ([`fetch`]), reading it ([`pipeline`]), committing its chunks ([`writer`]) and
//! the runners that drive them ([`runner`]).

mod copy_text;
pub mod fetch;
pub mod pipeline;
pub mod runner;
pub mod store;
pub mod writer;
