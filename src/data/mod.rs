//! Data layer: reads CSV and Parquet extracts with polars, checks them, and hands estimators plain
//! ndarray structures (`design.rs`). polars never leaves this module.

pub mod design;
pub mod load;
pub mod panel;
pub mod privacy;

pub use design::{CrossSection, DesignSpec, MissingPolicy};
pub use load::{Column, Table};
