//! Command handlers: what each subcommand does, on top of the library. Returns exit codes.

use crate::cli::{BatchArgs, EstimateArgs, MergeArgs, OutputFormat, ReproduceArgs, SimulateArgs};
use crate::config::{ConfigFile, EvaluationSection, ExpectSection, PsmSection};
use crate::error::{InputError, exit};
use crate::plan::{self, RunPlan};
use crate::report::format::{Format, render};
use crate::report::{self, Report, ResultRow};
use std::io::IsTerminal;
use std::path::Path;

/// Writes to stdout; a closed pipe (`cominev ... | head`) ends the output quietly instead of
/// panicking.
pub fn emit(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Merges command-line flags over the config file (flags win) and plans the run.
pub fn plan_from_args(args: &EstimateArgs) -> Result<RunPlan, InputError> {
    let mut config = match &args.config {
        Some(path) => plan::read_config(path)?,
        None => ConfigFile::default(),
    };
    apply_flags(&mut config, args)?;
    plan::plan(&config, args.config.as_deref())
}

fn apply_flags(config: &mut ConfigFile, args: &EstimateArgs) -> Result<(), InputError> {
    let data = config.data.get_or_insert_with(Default::default);
    if let Some(path) = &args.data {
        // Flags are relative to the working directory, config paths to the config file.
        let absolute = std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.clone());
        data.path = Some(absolute.to_string_lossy().into_owned());
    }
    set(&mut data.treatment, &args.treatment);
    set(&mut data.unit, &args.unit);
    set(&mut data.time, &args.time);
    set(&mut data.first_treated, &args.first_treated);
    set(&mut data.intervention, &args.intervention);
    set(&mut data.missing, &args.missing);
    set(&mut data.delimiter, &args.delimiter);
    set(&mut config.seed, &args.seed);
    set(&mut config.ci_level, &args.ci_level);
    set(&mut config.min_cell, &args.min_cell);
    let flags_describe_evaluation =
        !args.outcomes.is_empty() || !args.covariates.is_empty() || args.method.is_some();
    if config.evaluation.is_empty() && flags_describe_evaluation {
        config.evaluation.push(EvaluationSection {
            name: Some("evaluation".into()),
            ..Default::default()
        });
    }
    for evaluation in &mut config.evaluation {
        if !args.outcomes.is_empty() {
            evaluation.outcomes = args.outcomes.clone();
        }
        if !args.covariates.is_empty() {
            evaluation.covariates = args.covariates.clone();
        }
        set(&mut evaluation.method, &args.method);
        set(&mut evaluation.estimand, &args.estimand);
        if !any_psm_flag(args) {
            continue;
        }
        let psm = evaluation.psm.get_or_insert_with(PsmSection::default);
        set(&mut psm.distance, &args.distance);
        set(&mut psm.ratio, &args.ratio);
        set(&mut psm.replace, &args.replace);
        set(&mut psm.caliper, &args.caliper);
        set(&mut psm.order, &args.order);
        set(&mut psm.discard, &args.discard);
        set(&mut psm.bias_adjust, &args.bias_adjust);
        set(&mut psm.ties, &args.ties);
        set(&mut psm.tie_tolerance, &args.tie_tolerance);
        set(&mut psm.se, &args.se);
        set(&mut psm.variance_matches, &args.variance_matches);
        if !args.exact.is_empty() {
            psm.exact = args.exact.clone();
        }
    }
    Ok(())
}

fn any_psm_flag(args: &EstimateArgs) -> bool {
    args.distance.is_some()
        || args.ratio.is_some()
        || args.replace.is_some()
        || args.caliper.is_some()
        || args.order.is_some()
        || args.discard.is_some()
        || args.bias_adjust.is_some()
        || args.ties.is_some()
        || args.tie_tolerance.is_some()
        || args.se.is_some()
        || args.variance_matches.is_some()
        || !args.exact.is_empty()
}

fn set<T: Clone>(target: &mut Option<T>, flag: &Option<T>) {
    if let Some(value) = flag {
        *target = Some(value.clone());
    }
}

pub fn configure_threads(threads: Option<usize>) -> usize {
    let n = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // A second call (tests running several commands in one process) keeps the first pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}

fn print_warnings(report: &Report, quiet: bool) {
    if !quiet {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
}

pub fn estimate(args: &EstimateArgs) -> Result<u8, InputError> {
    crate::run::VERBOSE.store(args.verbose, std::sync::atomic::Ordering::Relaxed);
    crate::progress::QUIET.store(args.quiet, std::sync::atomic::Ordering::Relaxed);
    let plan = plan_from_args(args)?;
    for path in args.output.iter().chain(args.plot.iter()) {
        report::check_writable(path)?;
    }
    let threads = configure_threads(args.threads);
    let report = crate::run::estimate(&plan, threads)?;
    print_warnings(&report, args.quiet);
    if args.deny_warnings && !report.warnings.is_empty() {
        return Err(InputError::usage(
            format!(
                "{} warning(s) and --deny-warnings is set",
                report.warnings.len()
            ),
            "address the warnings above, or drop --deny-warnings",
        ));
    }
    let format = match args.format {
        Some(OutputFormat::Json) => Format::Json,
        Some(OutputFormat::Csv) => Format::Csv,
        Some(OutputFormat::Markdown) => Format::Markdown,
        Some(OutputFormat::Table) => Format::Table,
        None if args.output.is_none() && std::io::stdout().is_terminal() => Format::Table,
        None => Format::Json,
    };
    let text = render(&report, format);
    if let Some(path) = &args.plot {
        match report::plot::svg(&report) {
            Some(svg) => report::write_atomically(path, svg.as_bytes())?,
            None => eprintln!(
                "note: nothing to plot (plots show synthetic controls and DiD event studies); {} not written",
                path.display()
            ),
        }
    }
    match &args.output {
        Some(path) => report::write_atomically(path, text.as_bytes())?,
        None => emit(text.as_bytes()),
    }
    Ok(exit::OK)
}

/// Checks config and data without estimating, and reports every evaluation's problems rather
/// than stopping at the first (config and file problems still stop at once: nothing else can be
/// checked without them).
pub fn validate(args: &EstimateArgs) -> Result<u8, InputError> {
    let plan = plan_from_args(args)?;
    let table = crate::data::Table::load(&plan.data_path, plan.delimiter)?;
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = crate::data::privacy::check(&table, &plan.identifiers) {
        problems.push(e.to_string());
    }
    let mut warnings = Vec::new();
    for evaluation in &plan.evaluations {
        let panel_spec = match &evaluation.method {
            crate::plan::MethodPlan::Did(_) => Some(crate::run::panel_spec(&plan, evaluation)),
            crate::plan::MethodPlan::Synth(synth) => {
                Some(crate::run::synth_panel_spec(&plan, evaluation, synth))
            }
            _ => None,
        };
        if let Some(spec) = panel_spec {
            match crate::data::panel::prepare_panel(&table, &spec) {
                Ok((panel, notes)) => {
                    warnings.extend(notes);
                    let treated = panel.group.iter().filter(|g| g.is_some()).count();
                    eprintln!(
                        "ok: evaluation `{}`: {} units ({treated} ever treated) × {} periods",
                        evaluation.name,
                        panel.n_units(),
                        panel.periods.len()
                    );
                }
                Err(e) => problems.push(e.to_string()),
            }
            continue;
        }
        match crate::data::design::prepare(&table, &crate::run::design_spec(&plan, evaluation)) {
            Ok(prepared) => {
                warnings.extend(prepared.warnings);
                for c in &prepared.comparisons {
                    eprintln!(
                        "ok: evaluation `{}`, intervention `{}`: {} beneficiaries, {} comparison units, {} covariate columns",
                        evaluation.name,
                        c.intervention,
                        c.n_treated(),
                        c.n_control(),
                        c.covariate_names.len()
                    );
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if problems.is_empty() {
        eprintln!(
            "valid: {} ({} rows)",
            plan.data_path.display(),
            table.n_rows()
        );
        return Ok(exit::OK);
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    eprintln!(
        "{} problem(s) found in {}",
        problems.len(),
        plan.data_path.display()
    );
    Ok(exit::INPUT)
}

/// One checked expectation.
struct Check {
    label: String,
    expected: f64,
    obtained: Option<f64>,
    pass: bool,
}

fn field(row: &ResultRow, name: &str) -> Option<f64> {
    match name {
        "estimate" => row.estimate,
        "std-error" | "std_error" => row.std_error,
        "p-value" | "p_value" => row.p_value,
        "ci-lower" | "ci_lower" => row.ci_lower,
        "ci-upper" | "ci_upper" => row.ci_upper,
        "n-treated" | "n_treated" => row.n_treated.map(|v| v as f64),
        "n-control" | "n_control" => row.n_control.map(|v| v as f64),
        _ => None,
    }
}

fn check(report: &Report, expect: &ExpectSection, config: &Path) -> Result<Check, InputError> {
    let name = expect.field.clone().unwrap_or_else(|| "estimate".into());
    let expected = expect
        .value
        .or(expect.estimate)
        .ok_or_else(|| InputError::Config {
            path: config.to_path_buf(),
            problem: format!(
                "[[expect]] for `{}`/`{}` has no expected value",
                expect.evaluation, expect.outcome
            ),
            hint: "add `value = ...` (or `estimate = ...`)".into(),
        })?;
    let target = expect.target.clone().unwrap_or_else(|| "overall".into());
    let row = report.results.iter().find(|r| {
        r.evaluation == expect.evaluation
            && r.outcome == expect.outcome
            && r.target == target
            && expect
                .intervention
                .as_ref()
                .is_none_or(|i| &r.intervention == i)
    });
    let obtained = match name.strip_prefix("weight:") {
        // A synthetic control's donor weight (0 for a donor outside the synthetic control).
        Some(donor) => report
            .synthetic_controls
            .iter()
            .find(|s| s.evaluation == expect.evaluation && s.outcome == expect.outcome)
            .map(|s| {
                s.donor_weights
                    .iter()
                    .find(|w| w.name == donor)
                    .map_or(0.0, |w| w.weight)
            }),
        None => row.and_then(|r| field(r, &name)),
    };
    let tolerance = expect
        .tolerance
        .unwrap_or(0.0)
        .max(expect.relative_tolerance.unwrap_or(0.0) * expected.abs());
    let pass = obtained.is_some_and(|o| (o - expected).abs() <= tolerance);
    Ok(Check {
        label: format!(
            "{} / {} / {} / {}",
            expect.evaluation, expect.outcome, target, name
        ),
        expected,
        obtained,
        pass,
    })
}

pub fn reproduce(args: &ReproduceArgs) -> Result<u8, InputError> {
    let threads = configure_threads(args.threads);
    let mut all_pass = true;
    println!(
        "{:<60} {:>14} {:>14} {:>12}  result",
        "check", "expected", "obtained", "difference"
    );
    for config in &args.configs {
        let estimate_args = EstimateArgs {
            config: Some(config.clone()),
            ..Default::default()
        };
        let plan = plan_from_args(&estimate_args)?;
        let report = crate::run::estimate(&plan, threads)?;
        for expect in &plan.expectations {
            let c = check(&report, expect, config)?;
            all_pass &= c.pass;
            let obtained = c
                .obtained
                .map_or("missing".to_string(), |o| format!("{o:.4}"));
            let difference = c
                .obtained
                .map_or("–".to_string(), |o| format!("{:.4}", o - c.expected));
            println!(
                "{:<60} {:>14.4} {:>14} {:>12}  {}",
                c.label,
                c.expected,
                obtained,
                difference,
                if c.pass { "pass" } else { "FAIL" }
            );
        }
    }
    Ok(if all_pass {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

pub fn simulate(args: &SimulateArgs) -> Result<u8, InputError> {
    let truth_path = args.output.with_extension("truth.json");
    report::check_writable(&args.output)?;
    let (csv, truth, rows) = match args.design {
        crate::cli::SimulateDesign::CrossSection => {
            let (records, truth) = crate::simulate::cross_section(args.rows, args.seed);
            (
                crate::simulate::to_csv(&records),
                serde_json::to_value(&truth),
                records.len(),
            )
        }
        crate::cli::SimulateDesign::Panel => {
            let (records, truth) = crate::simulate::staggered_panel(
                args.units.unwrap_or(1_000),
                args.periods.unwrap_or(8),
                args.seed,
            );
            (
                crate::simulate::records_to_csv(&records),
                serde_json::to_value(&truth),
                records.len(),
            )
        }
        crate::cli::SimulateDesign::RegionalPanel => {
            let (records, truth) = crate::simulate::regional_panel(
                args.units.unwrap_or(20),
                args.periods.unwrap_or(40),
                args.seed,
            );
            (
                crate::simulate::records_to_csv(&records),
                serde_json::to_value(&truth),
                records.len(),
            )
        }
    };
    let is_parquet = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    let contents = if is_parquet {
        crate::data::load::csv_to_parquet(&args.output, &csv)?
    } else {
        csv
    };
    report::write_atomically(&args.output, &contents)?;
    let truth = truth.expect("truths serialise");
    let mut text = serde_json::to_string_pretty(&truth).expect("truths serialise");
    text.push('\n');
    report::write_atomically(&truth_path, text.as_bytes())?;
    eprintln!(
        "wrote {} rows to {} and true effects to {}",
        rows,
        args.output.display(),
        truth_path.display()
    );
    Ok(exit::OK)
}

/// Expands files and folders into the sorted list of config files.
fn config_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| InputError::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let mut inside: Vec<std::path::PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn parse_shard(text: &str) -> Result<(usize, usize), InputError> {
    let parsed = text.split_once('/').and_then(|(i, n)| {
        Some((
            i.trim().parse::<usize>().ok()?,
            n.trim().parse::<usize>().ok()?,
        ))
    });
    match parsed {
        Some((i, n)) if n >= 1 && (1..=n).contains(&i) => Ok((i, n)),
        _ => Err(InputError::usage(
            format!("`--shard {text}` is not I/N with 1 ≤ I ≤ N"),
            "use e.g. --shard 2/4",
        )),
    }
}

/// One config's outcome in a batch, as written to the combined output.
fn batch_entry(config: &std::path::Path, threads: usize) -> (serde_json::Value, bool) {
    let args = EstimateArgs {
        config: Some(config.to_path_buf()),
        ..Default::default()
    };
    let result = plan_from_args(&args).and_then(|plan| crate::run::estimate(&plan, threads));
    let name = config.to_string_lossy().into_owned();
    match result {
        Ok(report) => {
            eprintln!("ok      {name} ({} results)", report.results.len());
            (
                serde_json::json!({ "config": name, "status": "ok", "report": report }),
                true,
            )
        }
        Err(error) => {
            let message = error.to_string();
            eprintln!("FAILED  {name}: {}", message.lines().next().unwrap_or(""));
            (
                serde_json::json!({ "config": name, "status": "failed", "error": message }),
                false,
            )
        }
    }
}

fn write_json(
    value: &serde_json::Value,
    output: Option<&std::path::Path>,
) -> Result<(), InputError> {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    match output {
        Some(path) => report::write_atomically(path, text.as_bytes()),
        None => {
            emit(text.as_bytes());
            Ok(())
        }
    }
}

pub fn batch(args: &BatchArgs) -> Result<u8, InputError> {
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if let Some(path) = &args.output {
        report::check_writable(path)?;
    }
    let threads = configure_threads(args.threads);
    let mut files = config_files(&args.paths)?;
    // Path order, whatever the order of the arguments: `merge` restores the same order.
    files.sort();
    files.dedup();
    let selected: Vec<&std::path::PathBuf> = files
        .iter()
        .enumerate()
        .filter(|(k, _)| shard.is_none_or(|(i, n)| k % n == i - 1))
        .map(|(_, f)| f)
        .collect();
    // Configs run one after another; each uses every thread inside.
    let mut entries = Vec::new();
    let mut failures = 0;
    for file in selected {
        let (entry, ok) = batch_entry(file, threads);
        failures += usize::from(!ok);
        entries.push(entry);
    }
    let combined = serde_json::json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "cominev_version": env!("CARGO_PKG_VERSION"),
        "shard": args.shard,
        "configs": entries,
    });
    write_json(&combined, args.output.as_deref())?;
    eprintln!(
        "{} configs, {failures} failed",
        combined["configs"].as_array().map_or(0, Vec::len)
    );
    Ok(if failures > 0 {
        exit::JOB_FAILED
    } else {
        exit::OK
    })
}

pub fn merge(args: &MergeArgs) -> Result<u8, InputError> {
    if let Some(path) = &args.output {
        report::check_writable(path)?;
    }
    let mut entries: Vec<serde_json::Value> = Vec::new();
    for input in &args.inputs {
        let text = std::fs::read_to_string(input).map_err(|e| InputError::Unreadable {
            path: input.clone(),
            reason: e.to_string(),
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| InputError::Malformed {
                path: input.clone(),
                format: "batch JSON",
                reason: e.to_string(),
                hint: "pass files written by `cominev batch --output`".into(),
            })?;
        let configs = value["configs"]
            .as_array()
            .ok_or_else(|| InputError::Malformed {
                path: input.clone(),
                format: "batch JSON",
                reason: "no `configs` list".into(),
                hint: "pass files written by `cominev batch --output`".into(),
            })?;
        entries.extend(configs.iter().cloned());
    }
    // The unsharded batch lists configs in path order.
    entries.sort_by(|a, b| {
        let path =
            |v: &serde_json::Value| std::path::PathBuf::from(v["config"].as_str().unwrap_or(""));
        path(a).cmp(&path(b))
    });
    let failures = entries.iter().filter(|e| e["status"] != "ok").count();
    let combined = serde_json::json!({
        "schema_version": crate::report::SCHEMA_VERSION,
        "cominev_version": env!("CARGO_PKG_VERSION"),
        "shard": serde_json::Value::Null,
        "configs": entries,
    });
    write_json(&combined, args.output.as_deref())?;
    Ok(if failures > 0 {
        exit::JOB_FAILED
    } else {
        exit::OK
    })
}
