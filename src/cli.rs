//! Command-line types (clap only). `main.rs` turns them into a `RunPlan` through `plan.rs`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "cominev",
    version,
    about = "Counterfactual impact evaluation: propensity-score matching, difference-in-differences, synthetic control and synthetic DiD",
    long_about = "cominev estimates the effect of an intervention from beneficiary and comparison-group records.\n\
Results go to stdout (or --output), logs and warnings to stderr.\n\n\
Exit codes: 0 ok; 2 usage, config or data error (nothing estimated, nothing written); \
3 a batch job failed; 4 a reproduction check failed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Estimate effects (one row per evaluation × intervention × outcome).
    #[command(after_help = "Examples:\n  \
cominev estimate --config data-samples/integration.toml\n  \
cominev estimate --config examples/lalonde-psid.toml --format json --output results.json\n  \
cominev estimate --data records.csv --treatment treated --outcome employed_12m \\\n      \
--covariates age,female,years_in_italy,region --replace true --ratio 4\n  \
cominev estimate --config data-samples/regional-panel.toml --format table --plot sc.svg")]
    Estimate(EstimateArgs),
    /// Check config and data without estimating.
    #[command(after_help = "Example:\n  cominev validate --config data-samples/integration.toml")]
    Validate(EstimateArgs),
    /// Run configs holding [[expect]] blocks; exit 4 when a result is outside its tolerance.
    #[command(
        after_help = "Examples:\n  cominev reproduce examples/lalonde-experimental.toml examples/lalonde-psid.toml\n  cominev reproduce examples/*.toml"
    )]
    Reproduce(ReproduceArgs),
    /// Run many configs (files, folders of *.toml) in one run; one combined JSON; exit 3 if any failed.
    #[command(after_help = "Examples:\n  \
cominev batch examples/ --output all.json\n  \
cominev batch configs/ --shard 1/4 --output shard1.json   # a CI matrix or job array\n  \
cominev merge shard*.json --output all.json")]
    Batch(BatchArgs),
    /// Combine `batch --shard` outputs into the result one unsharded batch gives.
    Merge(MergeArgs),
    /// Write synthetic records with known true effects (CSV) and a JSON sidecar of the truths.
    #[command(
        after_help = "Examples:\n  cominev simulate --rows 20000 --seed 20261126 --output data-samples/integration.csv\n  cominev simulate --design panel --units 1000 --periods 8 --output panel.parquet\n  cominev simulate --design regional-panel --units 20 --periods 40 --output regions.csv"
    )]
    Simulate(SimulateArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  cominev completions bash > /etc/bash_completion.d/cominev")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  cominev man > cominev.1 && man ./cominev.1")]
    Man,
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a fully commented default configuration.
    Init,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(Debug, Clone, Args, Default)]
pub struct EstimateArgs {
    /// TOML config file (flags below override its values for every evaluation).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Data file (.csv or .parquet).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// 0/1 treatment column.
    #[arg(long)]
    pub treatment: Option<String>,
    /// Panels: the unit identifier column.
    #[arg(long)]
    pub unit: Option<String>,
    /// Panels: the period column (integers, `2025Q3` quarters or ISO dates).
    #[arg(long)]
    pub time: Option<String>,
    /// Staggered panels: the first treated period column (0 = never treated).
    #[arg(long)]
    pub first_treated: Option<String>,
    /// Column whose values split the beneficiaries into interventions.
    #[arg(long)]
    pub intervention: Option<String>,
    /// Outcome column (repeat for several).
    #[arg(long = "outcome")]
    pub outcomes: Vec<String>,
    /// Covariate terms, comma-separated (`age,age^2,region,re74==0`).
    #[arg(long, value_delimiter = ',')]
    pub covariates: Vec<String>,
    /// psm | difference-in-means | did (sc, sdid: coming).
    #[arg(long)]
    pub method: Option<String>,
    /// att | atc | ate.
    #[arg(long)]
    pub estimand: Option<String>,
    /// logit | score | mahalanobis.
    #[arg(long)]
    pub distance: Option<String>,
    #[arg(long)]
    pub ratio: Option<usize>,
    #[arg(long)]
    pub replace: Option<bool>,
    /// Caliper in standard deviations of the distance.
    #[arg(long)]
    pub caliper: Option<f64>,
    /// Exact-matching columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exact: Vec<String>,
    /// largest | smallest | data | random.
    #[arg(long)]
    pub order: Option<String>,
    /// none | both | control | treated.
    #[arg(long)]
    pub discard: Option<String>,
    #[arg(long)]
    pub bias_adjust: Option<bool>,
    /// With replacement: keep all ties with the k-th match (true) or exactly k (false).
    #[arg(long)]
    pub ties: Option<bool>,
    /// Squared standardised distance within which candidates tie (default 0; R Matching 1e-5).
    #[arg(long)]
    pub tie_tolerance: Option<f64>,
    /// auto | abadie-imbens | cluster-matched-set.
    #[arg(long)]
    pub se: Option<String>,
    #[arg(long)]
    pub variance_matches: Option<usize>,
    /// drop | error.
    #[arg(long)]
    pub missing: Option<String>,
    #[arg(long)]
    pub delimiter: Option<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub ci_level: Option<f64>,
    /// Suppress results describing fewer units than this (default 10).
    #[arg(long)]
    pub min_cell: Option<usize>,
    /// Output format (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write results here (atomically) instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also draw the synthetic controls (treated against synthetic over time) and the DiD event
    /// studies (effect by periods since adoption, with intervals) into this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Worker threads (default: all cores). Results are identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Treat warnings as errors (exit 2).
    #[arg(long)]
    pub deny_warnings: bool,
    /// No warnings on stderr (they stay in the output).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Stage timings and detail on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// Config files or folders (every *.toml inside, in name order).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run only shard I of N (1-based): configs whose position modulo N is I − 1.
    #[arg(long)]
    pub shard: Option<String>,
    /// Combined JSON output (default stdout).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Outputs of `cominev batch --shard`.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReproduceArgs {
    /// Config files with [[expect]] blocks.
    #[arg(required = true)]
    pub configs: Vec<PathBuf>,
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SimulateDesign {
    /// Cross-section of beneficiaries and comparison units (matching).
    CrossSection,
    /// Staggered-adoption panel (difference-in-differences).
    Panel,
    /// Regions × quarters where one region adopts a policy (synthetic control).
    RegionalPanel,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[arg(long, value_enum, default_value_t = SimulateDesign::CrossSection)]
    pub design: SimulateDesign,
    /// Rows of the cross-section.
    #[arg(long, default_value_t = 20_000)]
    pub rows: usize,
    /// Units of the panel (default: 1,000; 20 Italian regions for `regional-panel`).
    #[arg(long)]
    pub units: Option<usize>,
    /// Periods of the panel (default: 8; 40 quarters for `regional-panel`).
    #[arg(long)]
    pub periods: Option<usize>,
    #[arg(long, default_value_t = crate::plan::DEFAULT_SEED)]
    pub seed: u64,
    /// File to write: CSV, or Parquet when the name ends in `.parquet`; the truths go to the same
    /// path with `.truth.json`.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
}
