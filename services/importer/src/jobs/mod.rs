//! Import jobs: their records ([`store`]), reading an upload ([`pipeline`]),
//! committing its chunks ([`writer`]) and the runners that drive them ([`runner`]).

pub mod pipeline;
pub mod runner;
pub mod store;
pub mod writer;
