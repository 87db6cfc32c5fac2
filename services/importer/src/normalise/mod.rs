//! Pure, per-field normalisers for imported contacts.
//!
//! Every cell of an export goes through one of these before it becomes part of an
//! `ImportedContact`: free text through [`text::clean`], then the field's own
//! normaliser ([`email::normalise`], [`phone::normalise`], [`url::profile_url`],
//! [`date::connected_on`], [`name::full_name`]).
//!
//! Guarantees shared by every normaliser here:
//! - pure: no I/O, no clock, no global state; the same input always gives the same
//!   output;
//! - total: any string, however long or strange, gives a value or an [`Invalid`],
//!   never a panic;
//! - idempotent: normalising an output again gives the same output, so a stored
//!   value can be re-normalised safely (for example after a rules change);
//! - a refusal is an [`Invalid`] with a stable machine code and a short message
//!   fit for the rejects report.
//!
//! Length limits on stored fields are not applied here; the caller owns them.

pub mod date;
pub mod email;
mod error;
pub mod name;
pub mod phone;
pub mod text;
pub mod url;

pub use error::{Excerpt, Invalid};

#[cfg(test)]
mod properties;
