//! Reading an extract into a `Table`: columns as plain vectors of optional numbers or text.
//!
//! Error messages refer to rows by their 1-based data-row number (the header is not counted) and
//! never echo a value, because values may identify a person.

use crate::error::{InputError, did_you_mean};
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A column after loading: numbers (any numeric or boolean dtype) or text.
#[derive(Debug, Clone)]
pub enum Column {
    Numeric(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

/// A column as plain numbers with NaN where a value is missing (or not a number), else as text:
/// what panels read, millions of values at a time, in half the memory of `Option<f64>` and, for
/// float columns without missing values, by one copy of the arrays.
#[derive(Debug, Clone)]
pub enum Dense {
    Numbers(Vec<f64>),
    Text(Vec<Option<String>>),
}

/// A loaded extract. Holds the polars frame privately; columns are handed out as plain vectors.
pub struct Table {
    pub path: PathBuf,
    pub sha256: String,
    frame: DataFrame,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("rows", &self.n_rows())
            .finish()
    }
}

impl Table {
    /// Loads a `.csv` or `.parquet` file. The SHA-256 of the file's bytes is computed alongside.
    pub fn load(path: &Path, delimiter: u8) -> Result<Table, InputError> {
        let unreadable = |reason: String| InputError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
        if metadata.is_dir() {
            return Err(unreadable("it is a folder, not a file".into()));
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let (hash, frame) = match extension.as_str() {
            "csv" | "txt" | "tsv" => {
                let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
                let (hash, frame) = rayon::join(
                    || Ok(sha256_of_bytes(&bytes)),
                    || read_csv(path, &bytes, delimiter),
                );
                (hash, frame)
            }
            "parquet" | "pq" => rayon::join(|| sha256_of_file(path), || read_parquet(path)),
            _ => {
                return Err(InputError::Malformed {
                    path: path.to_path_buf(),
                    format: "input",
                    reason: format!("unknown file type `.{extension}`"),
                    hint: "use a .csv or .parquet file".into(),
                });
            }
        };
        let frame = frame?;
        let sha256 = hash.map_err(|e| unreadable(e.to_string()))?;
        if frame.height() == 0 {
            return Err(InputError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Table {
            path: path.to_path_buf(),
            sha256,
            frame,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.frame.height()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.frame
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.frame.column(name).is_ok()
    }

    /// The error for a column that is not in the file, with the closest existing name.
    pub fn missing_column(&self, name: &str) -> InputError {
        let names = self.column_names();
        let suggestion = did_you_mean(name, names.iter().map(String::as_str));
        let mut available = names.join(", ");
        if available.len() > 400 {
            available.truncate(400);
            available.push_str(", …");
        }
        InputError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
            suggestion,
            available,
        }
    }

    /// A column as numbers or text, whichever its stored type is.
    pub fn column(&self, name: &str) -> Result<Column, InputError> {
        self.column_head(name, None)
    }

    /// The first `rows` values of a column (all of them with `None`), as numbers or text.
    pub fn column_head(&self, name: &str, rows: Option<usize>) -> Result<Column, InputError> {
        let full = self
            .frame
            .column(name)
            .map_err(|_| self.missing_column(name))?
            .as_materialized_series();
        let series = match rows {
            Some(n) => full.head(Some(n)),
            None => full.clone(),
        };
        let dtype = series.dtype().clone();
        if dtype.is_primitive_numeric() || dtype == DataType::Boolean {
            let cast = series
                .cast(&DataType::Float64)
                .map_err(|e| self.bad_column(name, e))?;
            let values = cast.f64().map_err(|e| self.bad_column(name, e))?;
            return Ok(Column::Numeric(present_numbers(values)));
        }
        let cast = series
            .cast(&DataType::String)
            .map_err(|e| self.bad_column(name, e))?;
        let values = cast.str().map_err(|e| self.bad_column(name, e))?;
        Ok(Column::Text(
            values.iter().map(|v| v.map(str::to_string)).collect(),
        ))
    }

    /// A column as `Dense` numbers (any numeric or boolean dtype) or text.
    pub fn dense(&self, name: &str) -> Result<Dense, InputError> {
        let series = self
            .frame
            .column(name)
            .map_err(|_| self.missing_column(name))?
            .as_materialized_series();
        let dtype = series.dtype().clone();
        if dtype == DataType::Int64 {
            let values = series.i64().map_err(|e| self.bad_column(name, e))?;
            let mut out = Vec::with_capacity(values.len());
            for array in values.downcast_iter() {
                let data: &[i64] = array.values();
                match array.validity() {
                    None => out.extend(data.iter().map(|&v| v as f64)),
                    Some(valid) => out.extend(
                        data.iter()
                            .zip(valid.iter())
                            .map(|(&v, ok)| if ok { v as f64 } else { f64::NAN }),
                    ),
                }
            }
            return Ok(Dense::Numbers(out));
        }
        if dtype.is_primitive_numeric() || dtype == DataType::Boolean {
            let cast = series
                .cast(&DataType::Float64)
                .map_err(|e| self.bad_column(name, e))?;
            let values = cast.f64().map_err(|e| self.bad_column(name, e))?;
            let mut out = Vec::with_capacity(values.len());
            for array in values.downcast_iter() {
                let data: &[f64] = array.values();
                match array.validity() {
                    None => out.extend_from_slice(data),
                    Some(valid) => out.extend(
                        data.iter()
                            .zip(valid.iter())
                            .map(|(&v, ok)| if ok { v } else { f64::NAN }),
                    ),
                }
            }
            return Ok(Dense::Numbers(out));
        }
        match self.column(name)? {
            Column::Text(values) => Ok(Dense::Text(values)),
            Column::Numeric(values) => Ok(Dense::Numbers(
                values.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
            )),
        }
    }

    /// `dense` numbers of a column that must hold numbers (text is parsed, as `numeric`).
    pub fn dense_numbers_of(&self, name: &str, column: Dense) -> Result<Vec<f64>, InputError> {
        match column {
            Dense::Numbers(values) => Ok(values),
            Dense::Text(values) => Ok(self
                .numeric_of(name, Column::Text(values))?
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect()),
        }
    }

    /// A column that must hold numbers. A text column is parsed; the first value that is not a
    /// number is reported by row (never by value).
    pub fn numeric(&self, name: &str) -> Result<Vec<Option<f64>>, InputError> {
        self.numeric_of(name, self.column(name)?)
    }

    /// `numeric` for a column already read with `column`.
    pub fn numeric_of(&self, name: &str, column: Column) -> Result<Vec<Option<f64>>, InputError> {
        match column {
            Column::Numeric(values) => Ok(values),
            Column::Text(values) => values
                .iter()
                .enumerate()
                .map(|(row, value)| match value.as_deref().map(str::trim) {
                    None | Some("") | Some("NA") => Ok(None),
                    Some(text) => text.parse::<f64>().map(Some).map_err(|_| InputError::BadValue {
                        path: self.path.clone(),
                        column: name.to_string(),
                        row: row + 1,
                        problem: "value is not a number".into(),
                        hint: "fix the value in the extract, or list the column under `categorical` if it is a category".into(),
                    }),
                })
                .collect(),
        }
    }

    fn bad_column(&self, name: &str, error: PolarsError) -> InputError {
        InputError::BadColumn {
            path: self.path.clone(),
            column: name.to_string(),
            problem: format!("cannot be read: {error}"),
            hint: "store the column as numbers or text".into(),
        }
    }
}

fn sha256_of_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn sha256_of_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows polars looks at to infer column types. A later value that does not fit the inferred type
/// makes polars fail; we then re-read every column as text, so the value's row can be named.
const INFER_SCHEMA_ROWS: usize = 10_000;

/// CSV text (as `simulate` writes it) re-encoded as Parquet, for extracts delivered that way.
pub fn csv_to_parquet(path: &Path, csv: &[u8]) -> Result<Vec<u8>, InputError> {
    let mut frame = read_csv(path, csv, b',')?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(&mut frame)
        .map_err(|e| InputError::Unreadable {
            path: path.to_path_buf(),
            reason: format!("cannot encode Parquet: {e}"),
        })?;
    Ok(bytes)
}

fn read_csv(path: &Path, bytes: &[u8], delimiter: u8) -> Result<DataFrame, InputError> {
    if !structure_looks_fine(bytes, delimiter) {
        check_csv_structure(path, delimiter)?;
    }
    let parse = |infer: usize| {
        let options = CsvParseOptions::default()
            .with_separator(delimiter)
            .with_null_values(Some(NullValues::AllColumnsSingle("NA".into())));
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(infer))
            .with_parse_options(options)
            .into_reader_with_file_handle(std::io::Cursor::new(bytes))
            .finish()
    };
    parse(INFER_SCHEMA_ROWS)
        .or_else(|_| parse(0))
        .map_err(|e| InputError::Malformed {
            path: path.to_path_buf(),
            format: "CSV",
            reason: e.to_string(),
            hint: "check the delimiter (`delimiter` in [data]) and the quoting".into(),
        })
}

/// Fast pass over the bytes: every non-empty line has as many fields as the header and quotes are
/// balanced. `false` sends us to the `csv` crate's slower check, which names the row.
fn structure_looks_fine(bytes: &[u8], delimiter: u8) -> bool {
    let mut expected: Option<usize> = None;
    let mut fields = 1usize;
    let mut in_quotes = false;
    let mut line_start = 0usize;
    let mut data_rows = 0usize;
    let mut position = 0usize;
    // Jump between the only bytes that matter (SIMD search), not byte by byte.
    // One line ends: record the header's field count or compare with it. Blank lines are skipped.
    let end_line = |line: &[u8], fields: usize, expected: &mut Option<usize>, rows: &mut usize| {
        if line.iter().all(|b| *b == b'\r') {
            return true;
        }
        match *expected {
            None => *expected = Some(fields),
            Some(n) if n != fields => return false,
            Some(_) => *rows += 1,
        }
        true
    };
    while let Some(offset) = memchr::memchr3(b'"', delimiter, b'\n', &bytes[position..]) {
        let at = position + offset;
        match bytes[at] {
            b'"' => in_quotes = !in_quotes,
            _ if in_quotes => {}
            b'\n' => {
                if !end_line(
                    &bytes[line_start..at],
                    fields,
                    &mut expected,
                    &mut data_rows,
                ) {
                    return false;
                }
                fields = 1;
                line_start = at + 1;
            }
            _ => fields += 1,
        }
        position = at + 1;
    }
    if line_start < bytes.len()
        && !end_line(&bytes[line_start..], fields, &mut expected, &mut data_rows)
    {
        return false;
    }
    // A single-column header may be a wrong delimiter: let the detailed check decide.
    !in_quotes && data_rows > 0 && expected.is_some_and(|n| n > 1)
}

/// Checks what polars would otherwise accept silently or report without a row number: an empty
/// file, a header with a single column that looks like another delimiter, rows with a different
/// number of fields, and unbalanced quotes. One pass of the `csv` crate over byte records.
fn check_csv_structure(path: &Path, delimiter: u8) -> Result<(), InputError> {
    let malformed = |reason: String, hint: &str| InputError::Malformed {
        path: path.to_path_buf(),
        format: "CSV",
        reason,
        hint: hint.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .map_err(|e| InputError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let header = reader
        .byte_headers()
        .map_err(|e| {
            malformed(
                e.to_string(),
                "the file must be UTF-8 text with a header row",
            )
        })?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
        });
    }
    if header.len() == 1 {
        for (other, name) in [(b';', "semicolon"), (b'\t', "tab"), (b'|', "pipe")] {
            if other != delimiter && header[0].contains(&other) {
                return Err(malformed(
                    format!("the header has one column but contains {name}s"),
                    &format!(
                        "the file looks {name}-separated: set `delimiter = \"{}\"` in [data] or pass --delimiter",
                        if other == b'\t' {
                            "\\t".to_string()
                        } else {
                            (other as char).to_string()
                        }
                    ),
                ));
            }
        }
    }
    let mut record = csv::ByteRecord::new();
    let mut row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                row += 1;
                if record.len() != header.len() {
                    return Err(malformed(
                        format!(
                            "data row {row} has {} fields but the header has {}",
                            record.len(),
                            header.len()
                        ),
                        "every row needs one field per header column; check for a stray delimiter or a missing quote",
                    ));
                }
            }
            Err(e) => {
                return Err(malformed(
                    format!("after data row {row}: {e}"),
                    "check the quoting around that row",
                ));
            }
        }
    }
    if row == 0 {
        return Err(InputError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

fn read_parquet(path: &Path) -> Result<DataFrame, InputError> {
    let file = std::fs::File::open(path).map_err(|e| InputError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    ParquetReader::new(file)
        .finish()
        .map_err(|e| InputError::Malformed {
            path: path.to_path_buf(),
            format: "Parquet",
            reason: e.to_string(),
            hint: "write the file again with a Parquet writer (e.g. polars, pandas or arrow)"
                .into(),
        })
}

/// The values of a numeric column, `None` where missing or NaN — read chunk by chunk from the
/// arrays (the element iterator of the chunked array was a quarter of a second per 8 million
/// rows).
fn present_numbers(values: &polars::prelude::Float64Chunked) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(values.len());
    for array in values.downcast_iter() {
        let data: &[f64] = array.values();
        match array.validity() {
            None => out.extend(data.iter().map(|&v| (!v.is_nan()).then_some(v))),
            Some(valid) => out.extend(
                data.iter()
                    .zip(valid.iter())
                    .map(|(&v, ok)| (ok && !v.is_nan()).then_some(v)),
            ),
        }
    }
    out
}
