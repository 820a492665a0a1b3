//! Reading an extract into a `Table`: columns as plain vectors of optional numbers or text.
//!
//! Error messages refer to rows by their 1-based data-row number (the header is not counted) and
//! never echo a value, because values may identify a person.

use crate::error::{InputError, did_you_mean};
use polars::prelude::*;
use rayon::prelude::*;
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
                let bytes = FileBytes::open(path).map_err(|e| unreadable(e.to_string()))?;
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
        let full = self.series(name)?;
        let series = match rows {
            Some(n) => full.head(Some(n)),
            None => full.clone(),
        };
        Ok(match self.dense_of(name, &series)? {
            Dense::Numbers(values) => {
                Column::Numeric(values.iter().map(|&v| (!v.is_nan()).then_some(v)).collect())
            }
            Dense::Text(values) => Column::Text(values),
        })
    }

    /// A column as `Dense` numbers (any numeric or boolean dtype) or text.
    pub fn dense(&self, name: &str) -> Result<Dense, InputError> {
        self.dense_of(name, self.series(name)?)
    }

    fn series(&self, name: &str) -> Result<&Series, InputError> {
        Ok(self
            .frame
            .column(name)
            .map_err(|_| self.missing_column(name))?
            .as_materialized_series())
    }

    /// Numbers, read chunk by chunk from the arrays (integers converted directly, other numeric
    /// and boolean types through a cast), NaN where missing; anything else as text.
    fn dense_of(&self, name: &str, series: &Series) -> Result<Dense, InputError> {
        let dtype = series.dtype().clone();
        if dtype == DataType::Int64 {
            let values = series.i64().map_err(|e| self.bad_column(name, e))?;
            return Ok(Dense::Numbers(floats(values, |v| v as f64)));
        }
        if dtype.is_primitive_numeric() || dtype == DataType::Boolean {
            let cast = series
                .cast(&DataType::Float64)
                .map_err(|e| self.bad_column(name, e))?;
            let values = cast.f64().map_err(|e| self.bad_column(name, e))?;
            return Ok(Dense::Numbers(floats(values, |v| v)));
        }
        let cast = series
            .cast(&DataType::String)
            .map_err(|e| self.bad_column(name, e))?;
        let values = cast.str().map_err(|e| self.bad_column(name, e))?;
        Ok(Dense::Text(
            values.iter().map(|v| v.map(str::to_string)).collect(),
        ))
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

/// A file's bytes: mapped into memory where possible (a 236 MB extract took 0.15 s to copy into a
/// fresh buffer, and as long again to give back), read otherwise (empty files, pipes).
enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileBytes {
    fn open(path: &Path) -> std::io::Result<FileBytes> {
        let file = std::fs::File::open(path)?;
        // SAFETY: the map is only read, and only while the extract is loaded; an extract changed
        // by another program during those seconds is outside what the tool can guard (polars
        // maps files the same way).
        match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => Ok(FileBytes::Mapped(map)),
            Err(_) => std::fs::read(path).map(FileBytes::Read),
        }
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
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
    // Without quotes every newline ends a record, so large files are checked in parallel blocks
    // of whole lines (236 MB: 0.20 s in one pass).
    const BLOCK: usize = 1 << 22;
    let quoted = || {
        bytes
            .par_chunks(BLOCK)
            .any(|c| memchr::memchr(b'"', c).is_some())
    };
    if bytes.len() > 2 * BLOCK && !quoted() {
        return same_fields_on_every_line(bytes, delimiter, BLOCK);
    }
    structure_looks_fine_serially(bytes, delimiter)
}

/// `structure_looks_fine` for bytes without quotes, by blocks of about `block` bytes.
fn same_fields_on_every_line(bytes: &[u8], delimiter: u8, block: usize) -> bool {
    let blank = |line: &[u8]| line.iter().all(|b| *b == b'\r');
    let fields = |line: &[u8]| 1 + memchr::memchr_iter(delimiter, line).count();
    // The header: the first line that is not blank.
    let mut start = 0;
    let expected = loop {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |at| start + at);
        let line = &bytes[start..end];
        if !blank(line) {
            break fields(line);
        }
        if end == bytes.len() {
            return false;
        }
        start = end + 1;
    };
    let body_start =
        memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |at| start + at + 1);
    // Block boundaries just after a newline.
    let mut bounds = vec![body_start];
    while let Some(&last) = bounds.last() {
        let target = last + block;
        if target >= bytes.len() {
            break;
        }
        let next =
            memchr::memchr(b'\n', &bytes[target..]).map_or(bytes.len(), |at| target + at + 1);
        bounds.push(next);
    }
    if bounds.last() != Some(&bytes.len()) {
        bounds.push(bytes.len());
    }
    let rows: Option<usize> = bounds
        .par_windows(2)
        .map(|w| {
            let block = &bytes[w[0]..w[1]];
            let mut rows = 0;
            let mut line_start = 0;
            // Delimiters seen on the current line.
            let mut count = 0;
            let mut end_line = |end: usize, count: usize| -> bool {
                let line = &block[line_start..end];
                line_start = end + 1;
                if count + 1 == expected {
                    rows += 1;
                    true
                } else {
                    blank(line)
                }
            };
            for (c, chunk) in block.chunks(64).enumerate() {
                let (mut delimiters, mut newlines) = byte_masks(chunk, delimiter);
                while newlines != 0 {
                    let at = newlines.trailing_zeros();
                    let before = (1u64 << at) - 1;
                    count += (delimiters & before).count_ones() as usize;
                    if !end_line(c * 64 + at as usize, count) {
                        return None;
                    }
                    count = 0;
                    // Drop the delimiters up to and including the newline.
                    delimiters &= !(before | (1u64 << at));
                    newlines &= newlines - 1;
                }
                count += delimiters.count_ones() as usize;
            }
            end_line(block.len(), count).then_some(rows)
        })
        .sum();
    rows.is_some_and(|r| r > 0) && expected > 1
}

/// Bit i set where byte i of `chunk` (at most 64 bytes) is the delimiter, and where it is a newline.
fn byte_masks(chunk: &[u8], delimiter: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if chunk.len() == 64 && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked) and the chunk holds the 64 bytes read.
        return unsafe { byte_masks_avx2(chunk, delimiter) };
    }
    let (mut delimiters, mut newlines) = (0u64, 0u64);
    for (i, &b) in chunk.iter().enumerate() {
        delimiters |= u64::from(b == delimiter) << i;
        newlines |= u64::from(b == b'\n') << i;
    }
    (delimiters, newlines)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn byte_masks_avx2(chunk: &[u8], delimiter: u8) -> (u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: two loads of 32 bytes within the 64 (the caller checks the length).
    let (low, high) = unsafe {
        (
            _mm256_loadu_si256(chunk.as_ptr() as *const __m256i),
            _mm256_loadu_si256(chunk.as_ptr().add(32) as *const __m256i),
        )
    };
    let mask = |v: __m256i, byte: u8| -> u64 {
        u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(byte as i8))) as u32)
    };
    (
        mask(low, delimiter) | (mask(high, delimiter) << 32),
        mask(low, b'\n') | (mask(high, b'\n') << 32),
    )
}

fn structure_looks_fine_serially(bytes: &[u8], delimiter: u8) -> bool {
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

/// The values of a numeric column as f64, NaN where missing, read chunk by chunk from the arrays
/// (the element iterator of the chunked array was a quarter of a second per 8 million rows).
fn floats<T: PolarsNumericType>(
    values: &ChunkedArray<T>,
    to_f64: impl Fn(T::Native) -> f64,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    for array in values.downcast_iter() {
        let data: &[T::Native] = array.values();
        match array.validity() {
            None => out.extend(data.iter().map(|&v| to_f64(v))),
            Some(valid) => out.extend(
                data.iter()
                    .zip(valid.iter())
                    .map(|(&v, ok)| if ok { to_f64(v) } else { f64::NAN }),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel, bit-mask check of unquoted files agrees with the serial one, across line
    /// endings, blank lines, a missing final newline and block and 64-byte boundaries.
    #[test]
    fn parallel_structure_check_agrees_with_the_serial_one() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut agreed = [0usize; 2];
        for case in 0..400 {
            let columns = 1 + case % 4;
            let crlf = case % 3 == 0;
            let mut text = String::new();
            if case % 5 == 0 {
                text.push_str("\n\r\n");
            }
            let row = |rng: &mut rand_chacha::ChaCha8Rng, fields: usize| -> String {
                (0..fields)
                    .map(|_| "x".repeat(rng.random_range(0..40)))
                    .collect::<Vec<_>>()
                    .join(";")
            };
            text.push_str(&row(&mut rng, columns));
            for _ in 0..rng.random_range(0..120) {
                text.push_str(if crlf { "\r\n" } else { "\n" });
                let fields = if rng.random_range(0..300) == 0 {
                    columns + 1
                } else if rng.random_range(0..300) == 0 {
                    0 // a blank line
                } else {
                    columns
                };
                text.push_str(&row(&mut rng, fields));
            }
            if case % 2 == 0 {
                text.push('\n');
            }
            let bytes = text.as_bytes();
            let serial = structure_looks_fine_serially(bytes, b';');
            for block in [1, 70, 1000] {
                assert_eq!(
                    same_fields_on_every_line(bytes, b';', block),
                    serial,
                    "case {case}, block {block}"
                );
            }
            agreed[usize::from(serial)] += 1;
        }
        // Both outcomes occur.
        assert!(agreed[0] > 20 && agreed[1] > 20, "{agreed:?}");
    }
}
