//! UTC timestamps: RFC 3339 for the results, and the results directory's name
//! (`kiln_measure::time`, shared with `kiln scaletest`).

pub use kiln_measure::time::{dir_stamp, rfc3339};
