//! Anonymity guard: refuses extracts that carry direct identifiers nobody declared.
//!
//! Text columns are sampled (the first `SAMPLE` non-empty values); a column where most values
//! look like an Italian codice fiscale, an e-mail address, a phone number or an IBAN, or whose name
//! says it holds a person's name, stops `estimate` and `validate` unless `[data] identifiers`
//! lists it (the `unit` column is declared by its role). Values are never echoed: the message
//! names the column and the kind only.

use super::load::{Column, Table};
use crate::error::InputError;

const SAMPLE: usize = 1_000;

fn is_codice_fiscale(v: &str) -> bool {
    let b = v.as_bytes();
    let letter = |c: u8| c.is_ascii_uppercase();
    // Digits may be replaced by letters (omocodia): LMNPQRSTUV.
    let digit = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    b.len() == 16
        && b[..6].iter().all(|&c| letter(c))
        && digit(b[6])
        && digit(b[7])
        && letter(b[8])
        && digit(b[9])
        && digit(b[10])
        && letter(b[11])
        && b[12..15].iter().all(|&c| digit(c))
        && letter(b[15])
}

fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !v.contains(' ')
                && !domain.starts_with('.')
        }
        None => false,
    }
}

fn is_phone(v: &str) -> bool {
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +-/().".contains(c));
    allowed
        && (8..=15).contains(&digits)
        && (v.starts_with('+') || v.starts_with("00") || v.starts_with('3') || v.contains(' '))
}

fn is_iban(v: &str) -> bool {
    let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let b = compact.as_bytes();
    (15..=34).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_uppercase()
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
}

const NAME_COLUMNS: [&str; 10] = [
    "nome",
    "cognome",
    "name",
    "surname",
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "full_name",
    "nominativo",
];

/// The kind of direct identifier a column looks like, if any.
pub fn identifier_kind(column: &str, values: &[Option<String>]) -> Option<&'static str> {
    if NAME_COLUMNS.contains(&column.to_ascii_lowercase().as_str()) {
        return Some("person names");
    }
    let sample: Vec<&str> = values
        .iter()
        .flatten()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .take(SAMPLE)
        .collect();
    if sample.is_empty() {
        return None;
    }
    let checks: [(&'static str, fn(&str) -> bool); 4] = [
        ("Italian codici fiscali", is_codice_fiscale),
        ("e-mail addresses", is_email),
        ("IBANs", is_iban),
        ("phone numbers", is_phone),
    ];
    checks
        .into_iter()
        .find(|(_, check)| sample.iter().filter(|v| check(v)).count() * 2 > sample.len())
        .map(|(kind, _)| kind)
}

/// Stops on the first undeclared identifier-like text column.
pub fn check(table: &Table, declared: &[String]) -> Result<(), InputError> {
    for name in table.column_names() {
        if declared.iter().any(|d| *d == name) {
            continue;
        }
        let values = match table.column_head(&name, Some(SAMPLE * 4))? {
            Column::Text(values) => values,
            Column::Numeric(_) if NAME_COLUMNS.contains(&name.to_ascii_lowercase().as_str()) => {
                Vec::new()
            }
            Column::Numeric(_) => continue,
        };
        if let Some(kind) = identifier_kind(&name, &values) {
            return Err(InputError::BadColumn {
                path: table.path.clone(),
                column: name,
                problem: format!("looks like it holds {kind}, a direct identifier"),
                hint: "remove it from the extract (it is not needed for the evaluation), or list it under `identifiers` in [data] if it must stay; its values are never printed".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn recognises_direct_identifiers() {
        assert_eq!(
            identifier_kind("cf", &some(&["RSSMRA85T10A562S", "VRDLGU90A01H501X"])),
            Some("Italian codici fiscali")
        );
        assert_eq!(
            identifier_kind("contact", &some(&["a.b@example.it", "x@y.org"])),
            Some("e-mail addresses")
        );
        assert_eq!(
            identifier_kind("tel", &some(&["+39 333 1234567", "+39 320 7654321"])),
            Some("phone numbers")
        );
        assert_eq!(
            identifier_kind("conto", &some(&["IT60X0542811101000000123456"])),
            Some("IBANs")
        );
        assert_eq!(
            identifier_kind("Cognome", &some(&["Rossi"])),
            Some("person names")
        );
        assert_eq!(
            identifier_kind("region", &some(&["Puglia", "Calabria", "Sicilia"])),
            None
        );
        assert_eq!(
            identifier_kind("quarter", &some(&["2025Q3", "2025Q4"])),
            None
        );
    }
}
