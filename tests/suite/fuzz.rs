//! Fuzzing the loaders (issue: "a fuzz target for the CSV/Parquet and TOML loaders that finds no
//! panic"): proptest feeds arbitrary bytes and mutations of valid files to the CSV and Parquet
//! readers and the config parser + planner, and the whole `estimate` pipeline on mutated data.
//! Every input must give `Ok` or a typed error, never a panic. The case counts keep CI quick;
//! `PROPTEST_CASES=100000 cargo test --release fuzz` runs a longer campaign.

use cominev::data::Table;
use proptest::prelude::*;
use std::io::Write;

const VALID_CSV: &str = "unit,period,treated,y,x\n1,2020,0,1.5,3\n1,2021,0,2.5,3\n2,2020,0,0.5,1\n2,2021,1,4.0,1\n3,2020,0,1.0,2\n3,2021,1,3.5,2\n";

const VALID_CONFIG: &str = "seed = 1\n[data]\npath = \"d.csv\"\nunit = \"unit\"\ntime = \"period\"\ntreatment = \"treated\"\n[[evaluation]]\nname = \"e\"\nmethod = \"psm\"\noutcomes = [\"y\"]\ncovariates = [\"x\"]\n[evaluation.psm]\nratio = 1\n";

/// 200 cases per target in CI; `PROPTEST_CASES` for longer campaigns.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("temp file");
    file.write_all(bytes).expect("write");
    path
}

/// A valid file with bytes overwritten, inserted and deleted at random positions.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut bytes = base.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.push(byte),
            }
        }
        bytes
    })
}

/// A small regional panel (6 regions × 22 years) for the synthetic-control targets.
fn regional_csv() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = String::from("region,year,rate\n");
        for u in 0..6 {
            for t in 0..22 {
                let value = 40.0 + u as f64 + 0.1 * t as f64 + ((u * 7 + t * 3) % 5) as f64 * 0.2;
                text.push_str(&format!("R{u},{},{value}\n", 2000 + t));
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn csv_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "d.csv", &bytes);
        let _ = Table::load(&path, b',');
    }

    #[test]
    fn parquet_loader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let mut with_magic = b"PAR1".to_vec();
        with_magic.extend(&bytes);
        with_magic.extend(b"PAR1");
        for contents in [bytes.clone(), with_magic] {
            let path = write(dir.path(), "d.parquet", &contents);
            let _ = Table::load(&path, b',');
        }
    }

    #[test]
    fn config_parser_and_planner_never_panic(text in mutated(VALID_CONFIG)) {
        if let Ok(text) = String::from_utf8(text) {
            if let Ok(config) = toml::from_str::<cominev::config::ConfigFile>(&text) {
                let _ = cominev::plan::plan(&config, None);
            }
        }
    }

    #[test]
    fn synthetic_control_never_panics_on_mutated_panels(bytes in mutated(regional_csv()), sdid in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let data = write(dir.path(), "d.csv", &bytes);
        let method = if sdid { "sdid" } else { "sc" };
        let text = format!(
            "[data]\npath = \"{}\"\nunit = \"region\"\ntime = \"year\"\n[[evaluation]]\nname = \"e\"\nmethod = \"{method}\"\noutcomes = [\"rate\"]\n[evaluation.{method}]\ntreated-units = [\"R2\"]\ntreatment-start = 2020\n",
            data.display()
        );
        let config: cominev::config::ConfigFile = toml::from_str(&text).unwrap();
        if let Ok(plan) = cominev::plan::plan(&config, None) {
            let _ = cominev::run::estimate(&plan, 1);
        }
    }

    #[test]
    fn estimate_never_panics_on_mutated_records(bytes in mutated(VALID_CSV)) {
        let dir = tempfile::tempdir().unwrap();
        let data = write(dir.path(), "d.csv", &bytes);
        let config: cominev::config::ConfigFile = toml::from_str(
            &VALID_CONFIG.replace("d.csv", &data.to_string_lossy()),
        ).unwrap();
        if let Ok(plan) = cominev::plan::plan(&config, None) {
            let _ = cominev::run::estimate(&plan, 1);
        }
    }
}
