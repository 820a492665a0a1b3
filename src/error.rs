//! Error types and the process exit codes they map to.
//!
//! Every error that can reach the user is a variant here, with enough context (file, column, row,
//! key) to act on it. Messages never contain record values from identifier columns: rows are
//! referred to by their 1-based data row number (header excluded).

use std::path::PathBuf;

/// Process exit codes: the contract scripts depend on (see README "Exit codes").
pub mod exit {
    /// Everything ran and every check passed.
    pub const OK: u8 = 0;
    /// Internal failure that is not the user's fault (a bug): please report it.
    pub const INTERNAL: u8 = 1;
    /// Usage, configuration or data error: nothing was estimated, no output written.
    pub const INPUT: u8 = 2;
    /// A batch finished but at least one job failed.
    pub const JOB_FAILED: u8 = 3;
    /// A `reproduce` expectation or a configured check failed.
    pub const CHECK_FAILED: u8 = 4;
}

/// Errors in configuration, flags or input data. All map to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "cannot read `{path}`: {reason}\n  hint: check that the path exists and is readable (paths in a config file are relative to the config file)"
    )]
    Unreadable { path: PathBuf, reason: String },

    #[error("`{path}` is not valid {format}: {reason}\n  hint: {hint}")]
    Malformed {
        path: PathBuf,
        format: &'static str,
        reason: String,
        hint: String,
    },

    #[error(
        "`{path}` has no data rows\n  hint: the file is empty or holds only a header; export the extract again"
    )]
    Empty { path: PathBuf },

    #[error(
        "`{path}`: column `{column}` not found{suggestion}\n  hint: the columns are: {available}"
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        suggestion: String,
        available: String,
    },

    #[error("`{path}`: column `{column}`, row {row}: {problem}\n  hint: {hint}")]
    BadValue {
        path: PathBuf,
        column: String,
        row: usize,
        problem: String,
        hint: String,
    },

    #[error("`{path}`: column `{column}`: {problem}\n  hint: {hint}")]
    BadColumn {
        path: PathBuf,
        column: String,
        problem: String,
        hint: String,
    },

    #[error("config `{path}`: {problem}\n  hint: {hint}")]
    Config {
        path: PathBuf,
        problem: String,
        hint: String,
    },

    #[error("{problem}\n  hint: {hint}")]
    Usage { problem: String, hint: String },

    #[error("evaluation `{evaluation}`{scope}: {problem}\n  hint: {hint}")]
    Design {
        evaluation: String,
        scope: String,
        problem: String,
        hint: String,
    },

    #[error(
        "output `{path}` is not writable: {reason}\n  hint: choose a path in an existing folder you can write to"
    )]
    Output { path: PathBuf, reason: String },
}

impl InputError {
    pub fn usage(problem: impl Into<String>, hint: impl Into<String>) -> Self {
        InputError::Usage {
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    pub fn design(
        evaluation: &str,
        scope: &str,
        problem: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        InputError::Design {
            evaluation: evaluation.to_string(),
            scope: scope.to_string(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }
}

/// The closest of `candidates` to `name` by edit distance, as "; did you mean `x`?" or "".
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let lower = name.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= (name.len() / 2).max(2) => format!("; did you mean `{c}`?"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_column() {
        let cols = ["treat", "education", "re78"];
        assert_eq!(
            did_you_mean("educaton", cols),
            "; did you mean `education`?"
        );
        assert_eq!(did_you_mean("zzzzzzzzzz", cols), "");
    }
}
