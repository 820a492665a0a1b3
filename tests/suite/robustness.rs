//! No panic on arbitrary input: seeded random CSV-like bytes through the loader and the design
//! checks, and random TOML-like text through the config parser and planner. Errors are expected;
//! a panic fails the test. (A seeded generator, not a coverage-guided fuzzer.)

use rand::{RngExt, SeedableRng};

const CASES: u64 = 400;

fn random_csv(rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u8> {
    let tokens: [&[u8]; 16] = [
        b"treat", b"x", b"y", b",", b",", b"\n", b"\r\n", b"\"", b"1", b"0", b"2.5", b"-", b"NA",
        b"", b";", b"\xff",
    ];
    let mut bytes = b"treat,x,y\n".to_vec();
    for _ in 0..rng.random_range(0..200) {
        bytes.extend_from_slice(tokens[rng.random_range(0..tokens.len())]);
    }
    bytes
}

/// Well-formed rows with random values (missing, text, out-of-range treatment, ties, extremes):
/// these reach the design checks, the logit and the matching.
fn random_rows(rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u8> {
    let values = [
        "0", "1", "1", "0", "", "NA", "2", "abc", "1e308", "-0", "0.5", "3", "3", "7.25", "-1e-9",
    ];
    let mut text = String::from("treat,x,y\n");
    for _ in 0..rng.random_range(0..60) {
        // Mostly plausible numbers (ties, extremes, missing), now and then junk.
        let pick = |rng: &mut rand_chacha::ChaCha8Rng| {
            if rng.random::<f64>() < 0.02 {
                values[rng.random_range(0..values.len())]
            } else {
                ["0", "1", "0.5", "3", "7.25", "-1e-9", "1e6", "", "2"][rng.random_range(0..9)]
            }
        };
        let treat = if rng.random::<f64>() < 0.995 {
            ["0", "1"][rng.random_range(0..2)]
        } else {
            pick(rng)
        };
        let (x, y) = (pick(rng), pick(rng));
        text.push_str(&format!("{treat},{x},{y}\n"));
    }
    text.into_bytes()
}

#[test]
fn random_csv_bytes_never_panic() {
    let dir = tempfile::tempdir().expect("folder");
    let path = dir.path().join("r.csv");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut estimated = 0usize;
    for case in 0..CASES {
        let bytes = if case % 2 == 0 {
            random_csv(&mut rng)
        } else {
            random_rows(&mut rng)
        };
        std::fs::write(&path, bytes).expect("write");
        let text = format!(
            "min-cell = 1\n[data]\npath = \"{}\"\ntreatment = \"treat\"\n[[evaluation]]\nname = \"e\"\noutcomes = [\"y\"]\ncovariates = [\"x\"]\n[evaluation.psm]\nreplace = true\n",
            path.display()
        );
        let config: cominev::config::ConfigFile = toml::from_str(&text).expect("valid config");
        let plan = cominev::plan::plan(&config, None).expect("plans");
        estimated += usize::from(cominev::run::estimate(&plan, 2).is_ok());
    }
    // Some random extracts must get through every check, or the test exercises only the loader.
    assert!(estimated > 0, "no random extract reached an estimate");
    eprintln!("{estimated} of {CASES} random extracts were estimated");
}

#[test]
fn random_config_text_never_panics() {
    let pieces = [
        "[data]\n",
        "path = \"x.csv\"\n",
        "treatment = \"t\"\n",
        "[[evaluation]]\n",
        "name = \"e\"\n",
        "method = \"did\"\n",
        "method = \"psm\"\n",
        "outcomes = [\"y\"]\n",
        "covariates = []\n",
        "[evaluation.psm]\n",
        "ratio = 0\n",
        "caliper = -1\n",
        "replace = true\n",
        "se = \"bootstrap\"\n",
        "[evaluation.did]\n",
        "bootstrap = 5\n",
        "bands = \"uniform\"\n",
        "estimator = \"2x2\"\n",
        "weights-from = \"zz\"\n",
        "ci-level = 2\n",
        "[[expect]]\n",
        "evaluation = \"q\"\n",
        "= = =\n",
        "\"\n",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    for _ in 0..CASES * 5 {
        let text: String = (0..rng.random_range(0..14))
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        if let Ok(config) = toml::from_str::<cominev::config::ConfigFile>(&text) {
            let _ = cominev::plan::plan(&config, None);
        }
    }
}
