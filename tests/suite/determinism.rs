//! Same data, config and seed → byte-identical output on 1 and 8 threads. The provenance records
//! the thread count, so that one line is the only allowed difference.

use assert_cmd::Command;

fn json(threads: &str) -> String {
    let out = Command::cargo_bin("cominev")
        .expect("binary built")
        .args([
            "estimate",
            "--config",
            "data-samples/integration.toml",
            "--format",
            "json",
            "-q",
            "--threads",
            threads,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    crate::util::assert_success(&out);
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn identical_json_on_one_and_eight_threads() {
    let one = json("1");
    let eight = json("8");
    assert!(one.contains("\"threads\": 1,") && eight.contains("\"threads\": 8,"));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("\"threads\":"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&one), strip(&eight));
    assert_eq!(one.len(), eight.len());
}

#[test]
fn random_order_is_reproducible_from_the_seed() {
    let run = |seed: &str| {
        let out = Command::cargo_bin("cominev")
            .expect("binary built")
            .args([
                "estimate",
                "--data",
                "data-samples/integration.csv",
                "--treatment",
                "treated",
            ])
            .args([
                "--intervention",
                "intervention",
                "--outcome",
                "monthly_earnings",
                "--format",
                "csv",
                "-q",
            ])
            .args([
                "--covariates",
                "age,female,years_in_italy,education,region,employed_before",
            ])
            .args(["--replace", "false", "--order", "random", "--seed", seed])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs");
        crate::util::assert_success(&out);
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    assert_eq!(run("7"), run("7"));
    assert_ne!(
        run("7"),
        run("8"),
        "a different seed should give a different random order"
    );
}

/// Difference-in-differences with the multiplier bootstrap (parallel draws), the experiment and
/// matching examples, and the synthetic-control family: identical output on 1 and 8 threads.
#[test]
fn identical_json_across_thread_counts_for_every_method() {
    let dir = tempfile::tempdir().expect("folder");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(repo.join("examples/mpdta.toml"))
        .expect("example")
        .replace(
            "../tests/fixtures",
            &repo.join("tests/fixtures").to_string_lossy(),
        )
        .replace(
            "base-period = \"varying\"",
            "base-period = \"varying\"\nbootstrap = 999",
        );
    let bootstrap_config = dir.path().join("mpdta-bootstrap.toml");
    std::fs::write(&bootstrap_config, text).expect("write");
    let configs = [
        bootstrap_config,
        repo.join("examples/lalonde-experimental.toml"),
        repo.join("examples/lalonde-dw-psid.toml"),
        // Placebo refits in parallel (synthetic DiD), and placebo-in-space, leave-one-out and
        // conformal refits (classic synthetic control).
        repo.join("examples/prop99-sdid.toml"),
        repo.join("data-samples/regional-panel.toml"),
    ];
    for config in configs {
        let run = |threads: &str| {
            let out = Command::cargo_bin("cominev")
                .expect("binary built")
                .args([
                    "estimate",
                    "--format",
                    "json",
                    "-q",
                    "--threads",
                    threads,
                    "--config",
                ])
                .arg(&config)
                .output()
                .expect("runs");
            crate::util::assert_success(&out);
            let text = String::from_utf8(out.stdout).expect("UTF-8");
            text.lines()
                .filter(|l| !l.trim_start().starts_with("\"threads\":"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(run("1"), run("8"), "{}", config.display());
    }
}
