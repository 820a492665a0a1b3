//! Defaults < config file < command-line flags, turned into one validated `RunPlan`.
//! Every cross-setting check lives here, so estimators can trust their parameters.

use crate::config::{ConfigFile, EvaluationSection, ExpectSection, PsmSection};
use crate::data::MissingPolicy;
use crate::error::InputError;
use crate::estimators::Estimand;
use crate::estimators::did::att_gt::{AttGtParams, BasePeriod, ControlGroup};
use crate::estimators::did::conditional::EstMethod;
use crate::estimators::psm::{Discard, DistanceKind, MatchOrder, PsmParams, PsmVariance};
use crate::estimators::synth::classic::VMethod;
use crate::estimators::synth::sdid::{SdidKind, SdidVariance};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const DEFAULT_SEED: u64 = 20_261_126;
pub const DEFAULT_CI_LEVEL: f64 = 0.95;
/// Eurostat's and ACRO's rule of thumb: at least 10 contributing units per published cell.
pub const DEFAULT_MIN_CELL: usize = 10;
/// Stata `teffects nnmatch`'s default `vce(robust, nn(2))`.
pub const DEFAULT_VARIANCE_MATCHES: usize = 2;

#[derive(Debug, Clone)]
pub struct RunPlan {
    pub config_path: Option<PathBuf>,
    pub config_sha256: String,
    pub data_path: PathBuf,
    pub delimiter: u8,
    pub seed: u64,
    pub ci_level: f64,
    pub min_cell: usize,
    /// Required for matching; panels may use `first_treated` instead.
    pub treatment: Option<String>,
    pub first_treated: Option<String>,
    pub unit: Option<String>,
    pub time: Option<String>,
    pub intervention: Option<String>,
    pub cluster: Option<String>,
    pub categorical: Vec<String>,
    pub reference_levels: BTreeMap<String, String>,
    pub missing: MissingPolicy,
    /// Columns declared as identifiers (the unit column and `identifiers`).
    pub identifiers: Vec<String>,
    pub evaluations: Vec<EvaluationPlan>,
    pub expectations: Vec<ExpectSection>,
}

#[derive(Debug, Clone)]
pub struct EvaluationPlan {
    pub name: String,
    pub outcomes: Vec<String>,
    pub covariates: Vec<String>,
    pub estimand: Estimand,
    pub method: MethodPlan,
}

#[derive(Debug, Clone)]
pub enum MethodPlan {
    Psm(PsmParams),
    /// Randomised experiment: `pooled` selects the classical equal-variance SE.
    DifferenceInMeans {
        pooled: bool,
    },
    /// Difference-in-differences on a panel (Callaway–Sant'Anna).
    Did(DidPlan),
    /// The 2×2 difference-in-differences regression (panels or repeated cross-sections);
    /// `cr2` selects Bell–McCaffrey standard errors instead of CR1; `weights_from` names the PSM
    /// evaluation whose matching weights make it a matched DiD.
    TwoByTwo {
        cr2: bool,
        weights_from: Option<String>,
    },
    Synth(SynthPlan),
}

/// Synthetic control family (`method = "sc"` or `"sdid"`).
#[derive(Debug, Clone)]
pub struct SynthPlan {
    /// Treated units named in the config (empty: from the data's treatment columns).
    pub treated_units: Vec<String>,
    pub treatment_start: Option<String>,
    pub estimator: SynthEstimator,
}

#[derive(Debug, Clone)]
pub enum SynthEstimator {
    Classic(ClassicScPlan),
    Sdid {
        kind: SdidKind,
        variance: SdidVariance,
        replications: usize,
    },
}

#[derive(Debug, Clone)]
pub struct ClassicScPlan {
    pub v: VMethod,
    pub donors: Vec<String>,
    pub exclude_donors: Vec<String>,
    pub fit_from: Option<String>,
    pub fit_to: Option<String>,
    /// (variable, first period, last period); `None` = the pre-period's end.
    pub predictors: Vec<(String, Option<String>, Option<String>)>,
    pub placebo: bool,
    pub placebo_mspe_cutoff: Option<f64>,
    pub placebo_times: Vec<String>,
    pub leave_one_out: bool,
    pub conformal: bool,
}

/// Placebo or bootstrap replications for synthetic DiD (R synthdid's default).
pub const DEFAULT_SDID_REPLICATIONS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DidEstimator {
    /// Callaway–Sant'Anna group-time effects.
    AttGt,
    /// Two-way fixed-effects event study and static effect.
    Twfe,
}

#[derive(Debug, Clone)]
pub struct DidPlan {
    pub estimator: DidEstimator,
    pub att_gt: AttGtParams,
    /// Multiplier-bootstrap draws; 0 = analytic standard errors.
    pub bootstrap_draws: usize,
    /// Simultaneous (uniform) bands for the ATT(g,t) and event-study rows (needs the bootstrap).
    pub uniform_bands: bool,
}

impl EvaluationPlan {
    /// Exact-matching columns (empty for methods without matching).
    pub fn exact(&self) -> Vec<String> {
        match &self.method {
            MethodPlan::Psm(p) => p.exact.clone(),
            MethodPlan::DifferenceInMeans { .. }
            | MethodPlan::Did(_)
            | MethodPlan::Synth(_)
            | MethodPlan::TwoByTwo { .. } => Vec::new(),
        }
    }
}

fn config_error(
    path: &Option<PathBuf>,
    problem: impl Into<String>,
    hint: impl Into<String>,
) -> InputError {
    match path {
        Some(p) => InputError::Config {
            path: p.clone(),
            problem: problem.into(),
            hint: hint.into(),
        },
        None => InputError::usage(problem, hint),
    }
}

fn no_intervention_split(path: &Option<PathBuf>, evaluation: &str, what: &str) -> InputError {
    config_error(
        path,
        format!("evaluation `{evaluation}`: {what} with an `intervention` split is not available"),
        "remove `intervention`, or evaluate each intervention in its own config",
    )
}

fn choice<T: Copy>(
    path: &Option<PathBuf>,
    key: &str,
    value: Option<&str>,
    default: T,
    options: &[(&str, T)],
) -> Result<T, InputError> {
    match value {
        None => Ok(default),
        Some(v) => options
            .iter()
            .find(|(name, _)| *name == v)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                config_error(
                    path,
                    format!("`{key} = \"{v}\"` is not one of: {}", names.join(", ")),
                    format!("set `{key}` to one of the listed values"),
                )
            }),
    }
}

/// Reads and parses a config file (unknown keys are errors).
pub fn read_config(path: &Path) -> Result<ConfigFile, InputError> {
    let text = std::fs::read_to_string(path).map_err(|e| InputError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| InputError::Config {
        path: path.to_path_buf(),
        problem: e.message().to_string(),
        hint: location_hint(&text, e.span()),
    })
}

fn location_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(range) => {
            let line = text[..range.start.min(text.len())].matches('\n').count() + 1;
            format!(
                "see line {line}; `cominev config init` prints every valid key with its meaning"
            )
        }
        None => "`cominev config init` prints every valid key with its meaning".into(),
    }
}

/// Validates a (flag-merged) config into a plan. `config_path` anchors relative paths.
pub fn plan(config: &ConfigFile, config_path: Option<&Path>) -> Result<RunPlan, InputError> {
    let path = config_path.map(Path::to_path_buf);
    let data = config.data.clone().unwrap_or_default();
    let raw_data_path = data.path.clone().ok_or_else(|| {
        config_error(
            &path,
            "no data file given",
            "set `path` in [data] or pass --data FILE",
        )
    })?;
    let base = config_path.and_then(Path::parent).unwrap_or(Path::new(""));
    let data_path = base.join(&raw_data_path);
    let treatment = data.treatment.clone();
    let delimiter = match data.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("\t") => b'\t',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) => {
            return Err(config_error(
                &path,
                format!("`delimiter = \"{d}\"` must be one character"),
                "use e.g. \",\" or \";\"",
            ));
        }
    };
    let missing = choice(
        &path,
        "missing",
        data.missing.as_deref(),
        MissingPolicy::Drop,
        &[
            ("drop", MissingPolicy::Drop),
            ("error", MissingPolicy::Error),
        ],
    )?;
    let ci_level = config.ci_level.unwrap_or(DEFAULT_CI_LEVEL);
    if !(ci_level > 0.0 && ci_level < 1.0) {
        return Err(config_error(
            &path,
            format!("`ci-level = {ci_level}` must be between 0 and 1"),
            "use e.g. 0.95 for 95% intervals",
        ));
    }
    if config.evaluation.is_empty() {
        return Err(config_error(
            &path,
            "no [[evaluation]] given",
            "add an [[evaluation]] block, or pass --method, --outcome and --covariates",
        ));
    }
    let mut names = BTreeSet::new();
    let mut evaluations = Vec::new();
    for (index, section) in config.evaluation.iter().enumerate() {
        let evaluation = plan_evaluation(&path, section, index)?;
        if !names.insert(evaluation.name.clone()) {
            return Err(config_error(
                &path,
                format!("two evaluations are named `{}`", evaluation.name),
                "give every [[evaluation]] a unique `name`",
            ));
        }
        evaluations.push(evaluation);
    }
    for evaluation in &evaluations {
        let panel = matches!(evaluation.method, MethodPlan::Did(_) | MethodPlan::Synth(_));
        if panel && (data.unit.is_none() || data.time.is_none()) {
            return Err(config_error(
                &path,
                format!(
                    "evaluation `{}` needs a panel: `unit` and `time` columns",
                    evaluation.name
                ),
                "set `unit` and `time` in [data]",
            ));
        }
        match &evaluation.method {
            MethodPlan::TwoByTwo {
                weights_from: Some(source),
                ..
            } => {
                let ok = evaluations.iter().any(|e| {
                    e.name == *source
                        && matches!(e.method, MethodPlan::Psm(_))
                        && e.estimand == Estimand::Att
                });
                if !ok {
                    return Err(config_error(
                        &path,
                        format!(
                            "evaluation `{}`: `weights-from = \"{source}\"` must name a `psm` evaluation with `estimand = \"att\"` in this config",
                            evaluation.name
                        ),
                        "add that [[evaluation]] or correct the name",
                    ));
                }
                if data.unit.is_none() || data.time.is_none() || treatment.is_none() {
                    return Err(config_error(
                        &path,
                        format!(
                            "evaluation `{}` (matched DiD) needs `unit`, `time` and `treatment` in [data]",
                            evaluation.name
                        ),
                        "set them in [data]",
                    ));
                }
                if data.intervention.is_some() {
                    return Err(no_intervention_split(
                        &path,
                        &evaluation.name,
                        "matched DiD",
                    ));
                }
            }
            MethodPlan::TwoByTwo { .. } => {
                if data.time.is_none() || treatment.is_none() {
                    return Err(config_error(
                        &path,
                        format!(
                            "evaluation `{}` (2x2) needs `time` (two periods) and `treatment` (the treated group, 0/1)",
                            evaluation.name
                        ),
                        "set `time` and `treatment` in [data]",
                    ));
                }
            }
            MethodPlan::Synth(synth) => {
                if synth.treated_units.is_empty()
                    && data.first_treated.is_none()
                    && treatment.is_none()
                {
                    return Err(config_error(
                        &path,
                        format!(
                            "evaluation `{}` needs to know who is treated and when",
                            evaluation.name
                        ),
                        "set `treated-units` and `treatment-start` under the method's section, or `treatment` / `first-treated` in [data]",
                    ));
                }
                if data.intervention.is_some() {
                    return Err(no_intervention_split(
                        &path,
                        &evaluation.name,
                        "synthetic control",
                    ));
                }
            }
            MethodPlan::Did(_) => {
                if data.first_treated.is_none() && treatment.is_none() {
                    return Err(config_error(
                        &path,
                        format!("evaluation `{}` needs treatment timing", evaluation.name),
                        "set `first-treated` (first treated period, 0 = never) or `treatment` (absorbing 0/1) in [data]",
                    ));
                }
            }
            _ if treatment.is_none() => {
                return Err(config_error(
                    &path,
                    "no treatment column given",
                    "set `treatment` in [data] or pass --treatment COLUMN",
                ));
            }
            _ => {}
        }
    }
    for expect in &config.expect {
        if !names.contains(&expect.evaluation) {
            return Err(config_error(
                &path,
                format!(
                    "[[expect]] refers to evaluation `{}`, which does not exist",
                    expect.evaluation
                ),
                "use the `name` of an [[evaluation]]",
            ));
        }
    }
    let canonical = serde_json::to_string(config).expect("config structs serialise");
    Ok(RunPlan {
        config_path: path,
        config_sha256: crate::data::load::hex(&Sha256::digest(canonical.as_bytes())),
        data_path,
        delimiter,
        seed: config.seed.unwrap_or(DEFAULT_SEED),
        ci_level,
        min_cell: config.min_cell.unwrap_or(DEFAULT_MIN_CELL),
        treatment,
        first_treated: data.first_treated.clone(),
        unit: data.unit.clone(),
        time: data.time.clone(),
        intervention: data.intervention.clone(),
        cluster: data.cluster.clone(),
        categorical: data.categorical.clone(),
        reference_levels: data.reference_levels.clone(),
        missing,
        identifiers: data
            .identifiers
            .iter()
            .cloned()
            .chain(data.unit.iter().cloned())
            .collect(),
        evaluations,
        expectations: config.expect.clone(),
    })
}

fn plan_evaluation(
    path: &Option<PathBuf>,
    section: &EvaluationSection,
    index: usize,
) -> Result<EvaluationPlan, InputError> {
    let name = section
        .name
        .clone()
        .unwrap_or_else(|| format!("evaluation-{}", index + 1));
    let method = section.method.as_deref().unwrap_or("psm");
    match method {
        "psm" => {}
        "difference-in-means" => {
            if !section.covariates.is_empty() || section.psm.is_some() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: a difference in means uses no covariates or matching options"
                    ),
                    "remove `covariates` and [evaluation.psm], or use `method = \"psm\"`",
                ));
            }
            if section.outcomes.is_empty() {
                return Err(config_error(
                    path,
                    format!("evaluation `{name}` has no outcomes"),
                    "list them in `outcomes = [...]` or pass --outcome",
                ));
            }
            let se = section
                .difference_in_means
                .as_ref()
                .and_then(|d| d.se.as_deref());
            let pooled = choice(
                path,
                "se",
                se,
                false,
                &[("unequal", false), ("pooled", true)],
            )?;
            return Ok(EvaluationPlan {
                name,
                outcomes: section.outcomes.clone(),
                covariates: Vec::new(),
                estimand: Estimand::Ate,
                method: MethodPlan::DifferenceInMeans { pooled },
            });
        }
        "did" if section.did.as_ref().and_then(|d| d.estimator.as_deref()) == Some("2x2") => {
            if section.psm.is_some() || section.outcomes.is_empty() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: a 2x2 DiD needs outcomes and takes no matching options"
                    ),
                    "list `outcomes`, remove [evaluation.psm]",
                ));
            }
            let did = section.did.clone().unwrap_or_default();
            if did.control.is_some() || did.base_period.is_some() || did.anticipation.is_some() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: `control`, `base-period` and `anticipation` belong to `estimator = \"att-gt\"`"
                    ),
                    "remove them for the 2x2 regression",
                ));
            }
            let cr2 = choice(
                path,
                "se",
                did.se.as_deref(),
                false,
                &[("cr1", false), ("cr2", true)],
            )?;
            let weights_from = did.weights_from.clone();
            if cr2 && weights_from.is_some() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: CR2 is implemented for unweighted regressions, and a matched DiD is weighted"
                    ),
                    "use `se = \"cr1\"` with `weights-from`",
                ));
            }
            return Ok(EvaluationPlan {
                name,
                outcomes: section.outcomes.clone(),
                covariates: section.covariates.clone(),
                estimand: Estimand::Att,
                method: MethodPlan::TwoByTwo { cr2, weights_from },
            });
        }
        "did" => {
            if section.psm.is_some() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: difference-in-differences takes no matching options"
                    ),
                    "remove [evaluation.psm]",
                ));
            }
            if section.outcomes.is_empty() {
                return Err(config_error(
                    path,
                    format!("evaluation `{name}` has no outcomes"),
                    "list them in `outcomes = [...]` or pass --outcome",
                ));
            }
            let did = section.did.clone().unwrap_or_default();
            let estimator = match did.estimator.as_deref().unwrap_or("att-gt") {
                "att-gt" => DidEstimator::AttGt,
                "twfe" => {
                    if did.control.is_some()
                        || did.base_period.is_some()
                        || did.anticipation.is_some()
                        || did.bootstrap.is_some()
                        || did.bands.is_some()
                    {
                        return Err(config_error(
                            path,
                            format!(
                                "evaluation `{name}`: `control`, `base-period`, `anticipation`, `bootstrap` and `bands` belong to `estimator = \"att-gt\"`"
                            ),
                            "remove them for the TWFE event study",
                        ));
                    }
                    DidEstimator::Twfe
                }
                other => {
                    return Err(config_error(
                        path,
                        format!("evaluation `{name}`: `estimator = \"{other}\"` is not available"),
                        "use `estimator = \"att-gt\"` (Callaway & Sant'Anna), \"twfe\" or \"2x2\"",
                    ));
                }
            };
            let control = choice(
                path,
                "control",
                did.control.as_deref(),
                ControlGroup::Never,
                &[
                    ("never", ControlGroup::Never),
                    ("not-yet", ControlGroup::NotYet),
                ],
            )?;
            let base = choice(
                path,
                "base-period",
                did.base_period.as_deref(),
                BasePeriod::Varying,
                &[
                    ("varying", BasePeriod::Varying),
                    ("universal", BasePeriod::Universal),
                ],
            )?;
            if did.weights_from.is_some() {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: `weights-from` (matched DiD) is available with `estimator = \"2x2\"`"
                    ),
                    "use the 2x2 estimator for a matched DiD",
                ));
            }
            // "unconditional" is the estimator without covariates; with none, dr/reg/ipw reduce to it.
            if did.est_method.as_deref() == Some("unconditional") && !section.covariates.is_empty()
            {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: `est-method = \"unconditional\"` takes no covariates"
                    ),
                    "remove `covariates`, or use `dr`, `reg` or `ipw`",
                ));
            }
            let est_method = match did.est_method.as_deref() {
                Some("unconditional") => EstMethod::DoublyRobust,
                other => choice(
                    path,
                    "est-method",
                    other,
                    EstMethod::DoublyRobust,
                    &[
                        ("dr", EstMethod::DoublyRobust),
                        ("reg", EstMethod::Regression),
                        ("ipw", EstMethod::InverseProbability),
                    ],
                )?,
            };
            if estimator == DidEstimator::Twfe && !section.covariates.is_empty() {
                return Err(config_error(
                    path,
                    format!("evaluation `{name}`: the TWFE event study here takes no covariates"),
                    "remove `covariates`, or use `estimator = \"att-gt\"` with `est-method`",
                ));
            }
            let bootstrap_draws = did.bootstrap.unwrap_or(0);
            if bootstrap_draws > 0 && bootstrap_draws < 99 {
                return Err(config_error(
                    path,
                    format!(
                        "evaluation `{name}`: `bootstrap = {bootstrap_draws}` draws are too few for a 95% band"
                    ),
                    "use 999 (or at least 99), or 0 for analytic SEs",
                ));
            }
            let uniform_bands = match (did.bands.as_deref(), bootstrap_draws) {
                (None, 0) | (Some("pointwise"), _) => false,
                (None, _) | (Some("uniform"), 1..) => true,
                (Some("uniform"), 0) => {
                    return Err(config_error(
                        path,
                        format!(
                            "evaluation `{name}`: uniform bands come from the multiplier bootstrap"
                        ),
                        "set `bootstrap = 999`, or `bands = \"pointwise\"`",
                    ));
                }
                (Some(other), _) => {
                    return Err(config_error(
                        path,
                        format!("`bands = \"{other}\"` is not one of: uniform, pointwise"),
                        "use `bands = \"uniform\"` or \"pointwise\"",
                    ));
                }
            };
            let params = DidPlan {
                estimator,
                att_gt: AttGtParams {
                    control,
                    base,
                    anticipation: did.anticipation.unwrap_or(0),
                    est_method,
                },
                bootstrap_draws,
                uniform_bands,
            };
            return Ok(EvaluationPlan {
                name,
                outcomes: section.outcomes.clone(),
                covariates: section.covariates.clone(),
                estimand: Estimand::Att,
                method: MethodPlan::Did(params),
            });
        }
        "sc" | "sdid" => {
            return plan_synth(path, section, name, method);
        }
        other => {
            return Err(config_error(
                path,
                format!("evaluation `{name}`: unknown method `{other}`"),
                "use one of: psm, did, sc, sdid",
            ));
        }
    }
    if section.outcomes.is_empty() {
        return Err(config_error(
            path,
            format!("evaluation `{name}` has no outcomes"),
            "list them in `outcomes = [...]` or pass --outcome",
        ));
    }
    if section.covariates.is_empty() {
        return Err(config_error(
            path,
            format!("evaluation `{name}` has no covariates"),
            "list them in `covariates = [...]` or pass --covariates",
        ));
    }
    let estimand = choice(
        path,
        "estimand",
        section.estimand.as_deref(),
        Estimand::Att,
        &[
            ("att", Estimand::Att),
            ("atc", Estimand::Atc),
            ("ate", Estimand::Ate),
        ],
    )?;
    let psm = plan_psm(
        path,
        &name,
        section.psm.clone().unwrap_or_default(),
        estimand,
    )?;
    Ok(EvaluationPlan {
        name,
        outcomes: section.outcomes.clone(),
        covariates: section.covariates.clone(),
        estimand,
        method: MethodPlan::Psm(psm),
    })
}

fn plan_synth(
    path: &Option<PathBuf>,
    section: &EvaluationSection,
    name: String,
    method: &str,
) -> Result<EvaluationPlan, InputError> {
    if section.outcomes.is_empty() {
        return Err(config_error(
            path,
            format!("evaluation `{name}` has no outcomes"),
            "list them in `outcomes = [...]` or pass --outcome",
        ));
    }
    let other = if method == "sc" {
        section.sdid.is_some()
    } else {
        section.sc.is_some()
    };
    if other || section.psm.is_some() || section.did.is_some() {
        return Err(config_error(
            path,
            format!("evaluation `{name}`: options of another method under `method = \"{method}\"`"),
            format!("put the options under [evaluation.{method}]"),
        ));
    }
    if let Some(e) = section.estimand.as_deref().filter(|e| *e != "att") {
        return Err(config_error(
            path,
            format!(
                "evaluation `{name}`: synthetic control estimates the effect on the treated, not `{e}`"
            ),
            "remove `estimand` or set it to \"att\"",
        ));
    }
    let (treated_units, treatment_start, estimator) = if method == "sc" {
        let sc = section.sc.clone().unwrap_or_default();
        let v = choice(
            path,
            "v",
            sc.v.as_deref(),
            VMethod::Nested,
            &[
                ("nested", VMethod::Nested),
                ("regression", VMethod::Regression),
                ("equal", VMethod::Equal),
            ],
        )?;
        if let Some(k) = sc.placebo_mspe_cutoff.filter(|k| !(*k >= 1.0)) {
            return Err(config_error(
                path,
                format!(
                    "evaluation `{name}`: `placebo-mspe-cutoff = {k}` would drop the treated unit's own fit"
                ),
                "use a multiple of at least 1 (ADH use 5, 10 or 20)",
            ));
        }
        let mut predictors: Vec<(String, Option<String>, Option<String>)> = section
            .covariates
            .iter()
            .map(|c| (c.clone(), None, None))
            .collect();
        predictors.extend(sc.predictors.iter().map(|p| {
            (
                p.variable.clone(),
                p.from.as_ref().map(|v| v.label()),
                p.to.as_ref().map(|v| v.label()),
            )
        }));
        (
            sc.treated_units.clone(),
            sc.treatment_start.as_ref().map(|p| p.label()),
            SynthEstimator::Classic(ClassicScPlan {
                v,
                donors: sc.donors.clone(),
                exclude_donors: sc.exclude_donors.clone(),
                fit_from: sc.fit_from.as_ref().map(|p| p.label()),
                fit_to: sc.fit_to.as_ref().map(|p| p.label()),
                predictors,
                placebo: sc.placebo.unwrap_or(true),
                placebo_mspe_cutoff: sc.placebo_mspe_cutoff,
                placebo_times: sc.placebo_times.iter().map(|p| p.label()).collect(),
                leave_one_out: sc.leave_one_out.unwrap_or(true),
                conformal: sc.conformal.unwrap_or(true),
            }),
        )
    } else {
        let sdid = section.sdid.clone().unwrap_or_default();
        if !section.covariates.is_empty() {
            return Err(config_error(
                path,
                format!("evaluation `{name}`: synthetic DiD with covariates is not available"),
                "remove `covariates` (the weights balance pre-period outcomes), or use `method = \"sc\"` with predictors",
            ));
        }
        let kind = choice(
            path,
            "estimator",
            sdid.estimator.as_deref(),
            SdidKind::Sdid,
            &[
                ("sdid", SdidKind::Sdid),
                ("sc", SdidKind::Sc),
                ("did", SdidKind::Did),
            ],
        )?;
        let variance = choice(
            path,
            "variance",
            sdid.variance.as_deref(),
            SdidVariance::Placebo,
            &[
                ("placebo", SdidVariance::Placebo),
                ("jackknife", SdidVariance::Jackknife),
                ("bootstrap", SdidVariance::Bootstrap),
            ],
        )?;
        let replications = sdid.replications.unwrap_or(DEFAULT_SDID_REPLICATIONS);
        if variance != SdidVariance::Jackknife && replications < 20 {
            return Err(config_error(
                path,
                format!(
                    "evaluation `{name}`: `replications = {replications}` is too few for a standard error"
                ),
                "use 200 (the reference's default) or more",
            ));
        }
        (
            sdid.treated_units.clone(),
            sdid.treatment_start.as_ref().map(|p| p.label()),
            SynthEstimator::Sdid {
                kind,
                variance,
                replications,
            },
        )
    };
    if treated_units.is_empty() != treatment_start.is_none() {
        return Err(config_error(
            path,
            format!("evaluation `{name}`: `treated-units` and `treatment-start` go together"),
            "set both (for extracts without a treatment column), or neither (then [data] `treatment` or `first-treated` says who is treated when)",
        ));
    }
    Ok(EvaluationPlan {
        name,
        outcomes: section.outcomes.clone(),
        covariates: section.covariates.clone(),
        estimand: Estimand::Att,
        method: MethodPlan::Synth(SynthPlan {
            treated_units,
            treatment_start,
            estimator,
        }),
    })
}

fn tie_tolerance(
    path: &Option<PathBuf>,
    name: &str,
    section: &PsmSection,
) -> Result<Option<f64>, InputError> {
    match (section.ties.unwrap_or(true), section.tie_tolerance) {
        (false, Some(_)) => Err(config_error(
            path,
            format!("evaluation `{name}`: `tie-tolerance` is set but `ties = false`"),
            "remove one of the two",
        )),
        (false, None) => Ok(None),
        (true, Some(t)) if !(t >= 0.0 && t.is_finite()) => Err(config_error(
            path,
            format!("evaluation `{name}`: `tie-tolerance = {t}` must be zero or positive"),
            "use 0 (the default, exact ties) or e.g. 1e-5 (R Matching's)",
        )),
        (true, tolerance) => Ok(Some(
            tolerance.unwrap_or(crate::estimators::psm::matching::DEFAULT_TIE_TOLERANCE),
        )),
    }
}

fn plan_psm(
    path: &Option<PathBuf>,
    name: &str,
    section: PsmSection,
    estimand: Estimand,
) -> Result<PsmParams, InputError> {
    let refuse = |problem: String, hint: &str| {
        config_error(
            path,
            format!("evaluation `{name}`: {problem}"),
            hint.to_string(),
        )
    };
    let distance = choice(
        path,
        "distance",
        section.distance.as_deref(),
        DistanceKind::Logit,
        &[
            ("logit", DistanceKind::Logit),
            ("score", DistanceKind::Score),
            ("mahalanobis", DistanceKind::Mahalanobis),
        ],
    )?;
    let replace = section.replace.unwrap_or(false);
    // MatchIt 4.7's defaults: data order for Mahalanobis, largest score first for the ATT,
    // smallest first for the ATC.
    let default_order = match (distance, estimand) {
        (DistanceKind::Mahalanobis, _) => MatchOrder::Data,
        (_, Estimand::Atc) => MatchOrder::Smallest,
        _ => MatchOrder::Largest,
    };
    let order = choice(
        path,
        "order",
        section.order.as_deref(),
        default_order,
        &[
            ("largest", MatchOrder::Largest),
            ("smallest", MatchOrder::Smallest),
            ("data", MatchOrder::Data),
            ("random", MatchOrder::Random),
        ],
    )?;
    let discard = choice(
        path,
        "discard",
        section.discard.as_deref(),
        Discard::None,
        &[
            ("none", Discard::None),
            ("both", Discard::Both),
            ("control", Discard::Control),
            ("treated", Discard::Treated),
        ],
    )?;
    let ratio = section.ratio.unwrap_or(1);
    if ratio == 0 {
        return Err(refuse(
            "`ratio = 0`: each unit needs at least one match".into(),
            "set `ratio` to 1 or more",
        ));
    }
    if let Some(c) = section.caliper {
        if !(c > 0.0 && c.is_finite()) {
            return Err(refuse(
                format!("`caliper = {c}` must be a positive number of standard deviations"),
                "use e.g. `caliper = 0.2`, or remove it",
            ));
        }
        if distance == DistanceKind::Mahalanobis {
            return Err(refuse(
                "a caliper needs a one-dimensional distance, not `mahalanobis`".into(),
                "use `distance = \"logit\"` or remove the caliper",
            ));
        }
    }
    if replace && section.order.is_some() {
        return Err(refuse(
            "`order` only applies to matching without replacement".into(),
            "remove `order`, or set `replace = false`",
        ));
    }
    if !replace && estimand == Estimand::Ate {
        return Err(refuse(
            "the ATE needs matching with replacement (both arms are matched to each other)".into(),
            "set `replace = true`, or use `estimand = \"att\"` or \"atc\"",
        ));
    }
    let bias_adjust = section.bias_adjust.unwrap_or(false);
    if bias_adjust && !replace {
        return Err(refuse(
            "`bias-adjust` is the Abadie-Imbens (2011) correction for matching with replacement"
                .into(),
            "set `replace = true`, or turn bias adjustment off",
        ));
    }
    if section.variance_matches.is_some() && !replace {
        return Err(refuse(
            "`variance-matches` belongs to the Abadie-Imbens variance, used with replacement"
                .into(),
            "remove it, or set `replace = true`",
        ));
    }
    if (section.ties.is_some() || section.tie_tolerance.is_some()) && !replace {
        return Err(refuse(
            "`ties` applies to matching with replacement; without replacement each unit takes exactly `ratio` matches".into(),
            "remove `ties`, or set `replace = true`",
        ));
    }
    let variance_matches = section.variance_matches.unwrap_or(DEFAULT_VARIANCE_MATCHES);
    let variance = match (section.se.as_deref().unwrap_or("auto"), replace) {
        ("auto", true) | ("abadie-imbens", true) => PsmVariance::AbadieImbens { variance_matches },
        ("abadie-imbens-2016", true) => {
            let why = if distance != DistanceKind::Score {
                Some("it is derived for matching on the estimated propensity score: set `distance = \"score\"`")
            } else if estimand == Estimand::Atc {
                Some("it is available for the ATT and the ATE")
            } else if bias_adjust {
                Some("it is derived for the estimator without bias adjustment: set `bias-adjust = false`")
            } else if section.caliper.is_some() || !section.exact.is_empty() || discard != Discard::None {
                Some("it is derived for plain nearest-neighbour matching: remove `caliper`, `exact` and `discard`")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(refuse(format!("`se = \"abadie-imbens-2016\"`: {why}"), "or use `se = \"abadie-imbens\"`"));
            }
            let neighbours = section.variance_matches.unwrap_or(2);
            if neighbours < 2 {
                return Err(refuse("`variance-matches` for the 2016 correction counts the unit itself and must be at least 2".into(), "use 2 (Stata's default)"));
            }
            PsmVariance::AbadieImbens2016 { neighbours }
        }
        ("abadie-imbens-2016", false) => {
            return Err(refuse("the Abadie-Imbens (2016) correction is derived for matching with replacement".into(), "set `replace = true`"));
        }
        ("auto", false) | ("cluster-matched-set", false) => PsmVariance::MatchedSetCluster,
        ("abadie-imbens", false) => return Err(refuse("the Abadie-Imbens variance is derived for matching with replacement".into(), "set `replace = true`, or use `se = \"cluster-matched-set\"`")),
        ("cluster-matched-set", true) => return Err(refuse("with replacement a control can belong to several matched sets, so there are no clusters".into(), "use `se = \"abadie-imbens\"`, or set `replace = false`")),
        ("bootstrap", true) => return Err(refuse("the naive bootstrap is invalid for nearest-neighbour matching with replacement (Abadie & Imbens 2008)".into(), "use `se = \"abadie-imbens\"`")),
        ("bootstrap", false) => return Err(refuse("the bootstrap for matching is not available in this version".into(), "use `se = \"cluster-matched-set\"`")),
        (other, _) => return Err(refuse(format!("`se = \"{other}\"` is not one of: auto, abadie-imbens, abadie-imbens-2016, cluster-matched-set, bootstrap"), "use `se = \"auto\"`")),
    };
    Ok(PsmParams {
        distance,
        ratio,
        replace,
        caliper: section.caliper,
        exact: section.exact.clone(),
        order,
        discard,
        bias_adjust,
        variance,
        tie_tolerance: tie_tolerance(path, name, &section)?,
    })
}
