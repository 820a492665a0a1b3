//! `cominev batch` and `cominev merge`: many configs in one run, a failing config does not stop
//! the others (exit 3), and merged shards equal the unsharded run.

use assert_cmd::Command;

fn cominev(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let out = Command::cargo_bin("cominev")
        .expect("binary")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shards_merge_into_the_unsharded_result_and_failures_exit_3() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("folder");
    let configs = dir.path().join("configs");
    std::fs::create_dir(&configs).expect("mkdir");
    for name in [
        "lalonde-experimental.toml",
        "mpdta.toml",
        "lalonde-psid.toml",
    ] {
        let text = std::fs::read_to_string(repo.join("examples").join(name)).expect("example");
        let fixed = text.replace(
            "../tests/fixtures",
            &repo.join("tests/fixtures").to_string_lossy(),
        );
        std::fs::write(configs.join(name), fixed).expect("write");
    }
    std::fs::write(configs.join("zz-broken.toml"), "[data]\npath = \"missing.csv\"\ntreatment = \"t\"\n[[evaluation]]\nname = \"x\"\noutcomes = [\"y\"]\ncovariates = [\"a\"]\n").expect("write");
    let (code, stderr) = cominev(&["batch", "configs", "--output", "all.json"], dir.path());
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("FAILED  configs/zz-broken.toml") && stderr.contains("4 configs, 1 failed"),
        "{stderr}"
    );
    for shard in ["1/2", "2/2"] {
        let out = format!("shard{}.json", &shard[..1]);
        let (code, stderr) = cominev(
            &["batch", "configs", "--shard", shard, "--output", &out],
            dir.path(),
        );
        assert!(code == 0 || code == 3, "{stderr}");
    }
    let (code, stderr) = cominev(
        &[
            "merge",
            "shard1.json",
            "shard2.json",
            "--output",
            "merged.json",
        ],
        dir.path(),
    );
    assert_eq!(code, 3, "{stderr}");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).expect("output"))
            .expect("JSON")
    };
    let (all, merged) = (read("all.json"), read("merged.json"));
    assert_eq!(all["configs"], merged["configs"]);
    assert_eq!(all["configs"].as_array().map(Vec::len), Some(4));
}
