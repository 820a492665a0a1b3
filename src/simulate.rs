//! Synthetic records with known effects: the cross-section of third-country nationals in five
//! regions of Southern Italy used by `data-samples/`, the tests and the benchmarks.
//!
//! Generating process (seeded ChaCha8, so the same seed gives the same file on any machine):
//! - covariates: region (Campania 30%, Sicilia 26%, Puglia 22%, Calabria 16%, Basilicata 6%),
//!   age 18–64 (triangular), female (42%), years in Italy (exponential, mean 5, capped at 30),
//!   education (none 15%, primary 35%, secondary 38%, tertiary 12%), employed before entry
//!   (logistic in years in Italy and education);
//! - participation: multinomial logit over comparison / job coaching / Italian course / housing
//!   support, depending on age, prior employment, years in Italy, sex and region (selection on
//!   observables only, so matching on these covariates identifies the ATT);
//! - employment at 12 months: logit index in the covariates, shifted by +0.60 (job coaching),
//!   +0.30 (language course), +0.15 (housing support) for beneficiaries;
//! - monthly earnings: employed × wage, wage = 650 + 20·years + education premium + region
//!   effect + 60 (job coaching) or 40 (language course) + Normal(0, 150), floored at 200.
//! True effects are the beneficiaries' average of E[Y(1) − Y(0) | x], computed exactly from the
//! model (not from the drawn outcomes; the floor enters through the truncated-normal mean), and
//! written to the JSON sidecar.

use crate::estimators::psm::logit::logistic;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

pub const REGIONS: [(&str, f64, f64); 5] = [
    // name, population share, employment index shift
    ("Campania", 0.30, -0.20),
    ("Sicilia", 0.26, -0.25),
    ("Puglia", 0.22, 0.00),
    ("Calabria", 0.16, -0.30),
    ("Basilicata", 0.06, -0.10),
];
pub const EDUCATION: [(&str, f64, f64, f64); 4] = [
    // level, share, employment index shift, wage premium
    ("none", 0.15, -0.40, 0.0),
    ("primary", 0.35, -0.10, 40.0),
    ("secondary", 0.38, 0.15, 110.0),
    ("tertiary", 0.12, 0.35, 220.0),
];
/// intervention, employment logit shift, wage shift
pub const INTERVENTIONS: [(&str, f64, f64); 3] = [
    ("job_coaching", 0.60, 60.0),
    ("italian_course", 0.30, 40.0),
    ("housing_support", 0.15, 0.0),
];

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub record_no: usize,
    pub extract_quarter: String,
    pub region: String,
    pub age: u32,
    pub female: u8,
    pub years_in_italy: f64,
    pub education: String,
    pub employed_before: u8,
    pub treated: u8,
    pub intervention: String,
    pub employed_12m: u8,
    pub monthly_earnings: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub rows: usize,
    pub n_beneficiaries: BTreeMap<String, usize>,
    /// True ATT per intervention and outcome.
    pub att: BTreeMap<String, BTreeMap<String, f64>>,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], share: impl Fn(&T) -> f64) -> &'a T {
    let u: f64 = rng.random();
    let mut cumulative = 0.0;
    for item in items {
        cumulative += share(item);
        if u < cumulative {
            return item;
        }
    }
    items.last().expect("non-empty list")
}

fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub fn cross_section(rows: usize, seed: u64) -> (Vec<Record>, Truth) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut records = Vec::with_capacity(rows);
    let mut sums: BTreeMap<String, (usize, f64, f64)> = BTreeMap::new();
    for record_no in 1..=rows {
        let region = pick(&mut rng, &REGIONS, |r| r.1);
        let age = 18 + ((rng.random::<f64>() + rng.random::<f64>()) / 2.0 * 47.0) as u32;
        let female = u8::from(rng.random::<f64>() < 0.42);
        let years = (-5.0 * rng.random::<f64>().max(1e-12).ln()).min(30.0);
        let years = (years * 10.0).round() / 10.0;
        let education = pick(&mut rng, &EDUCATION, |e| e.1);
        let employed_before =
            u8::from(rng.random::<f64>() < logistic(-0.8 + 0.08 * years + education.2));
        let age_c = f64::from(age) - 35.0;
        let unemployed = f64::from(1 - employed_before);
        let scores = [
            -2.3 - 0.02 * age_c + 0.6 * unemployed + if region.0 == "Puglia" { 0.3 } else { 0.0 },
            -1.8 - 0.15 * years + 0.3 * f64::from(female),
            -2.6 + 0.5 * unemployed + if region.0 == "Campania" { 0.4 } else { 0.0 },
        ];
        let denominator = 1.0 + scores.iter().map(|s| s.exp()).sum::<f64>();
        let u: f64 = rng.random();
        let mut cumulative = 1.0 / denominator;
        let mut chosen: Option<usize> = None;
        if u >= cumulative {
            for (k, s) in scores.iter().enumerate() {
                cumulative += s.exp() / denominator;
                if u < cumulative || k == scores.len() - 1 {
                    chosen = Some(k);
                    break;
                }
            }
        }
        let index = -0.6 + 0.9 * f64::from(employed_before) + 0.05 * years
            - 0.02 * age_c
            - 0.3 * f64::from(female)
            + education.2
            + region.2;
        let mean_wage = 650.0 + 20.0 * years + education.3 + 100.0 * region.2;
        let (shift, wage_shift) =
            chosen.map_or((0.0, 0.0), |k| (INTERVENTIONS[k].1, INTERVENTIONS[k].2));
        let p0 = logistic(index);
        let p1 = logistic(index + shift);
        let employed = u8::from(rng.random::<f64>() < if chosen.is_some() { p1 } else { p0 });
        let wage = (mean_wage + wage_shift + WAGE_SD * standard_normal(&mut rng)).max(WAGE_FLOOR);
        let earnings = if employed == 1 {
            (wage * 100.0).round() / 100.0
        } else {
            0.0
        };
        if let Some(k) = chosen {
            let entry = sums.entry(INTERVENTIONS[k].0.to_string()).or_default();
            entry.0 += 1;
            entry.1 += p1 - p0;
            entry.2 += p1 * floored_mean(mean_wage + wage_shift) - p0 * floored_mean(mean_wage);
        }
        records.push(Record {
            record_no,
            extract_quarter: "2025Q4".into(),
            region: region.0.into(),
            age,
            female,
            years_in_italy: years,
            education: education.0.into(),
            employed_before,
            treated: u8::from(chosen.is_some()),
            intervention: chosen.map_or(String::new(), |k| INTERVENTIONS[k].0.to_string()),
            employed_12m: employed,
            monthly_earnings: earnings,
        });
    }
    let truth = Truth {
        seed,
        rows,
        n_beneficiaries: sums.iter().map(|(k, v)| (k.clone(), v.0)).collect(),
        att: sums
            .iter()
            .map(|(k, (n, employment, earnings))| {
                let n = *n as f64;
                let outcomes = BTreeMap::from([
                    ("employed_12m".to_string(), employment / n),
                    ("monthly_earnings".to_string(), earnings / n),
                ]);
                (k.clone(), outcomes)
            })
            .collect(),
    };
    (records, truth)
}

const WAGE_SD: f64 = 150.0;
const WAGE_FLOOR: f64 = 200.0;

/// E[max(W, floor)] for W ~ Normal(mean, WAGE_SD): the exact expected wage after the floor.
fn floored_mean(mean: f64) -> f64 {
    use statrs::distribution::{Continuous, ContinuousCDF, Normal};
    let normal = Normal::standard();
    let z = (mean - WAGE_FLOOR) / WAGE_SD;
    WAGE_FLOOR + (mean - WAGE_FLOOR) * normal.cdf(z) + WAGE_SD * normal.pdf(z)
}

/// Writes the records as CSV.
pub fn to_csv(records: &[Record]) -> Vec<u8> {
    records_to_csv(records)
}

/// One row of a simulated staggered-adoption panel.
#[derive(Debug, Clone, Serialize)]
pub struct PanelRecord {
    pub unit: usize,
    pub period: usize,
    pub first_treated: usize,
    pub y: f64,
}

/// True effects of a simulated panel: ATT(g,t) for every cohort and period (0 before treatment).
#[derive(Debug, Clone, Serialize)]
pub struct PanelTruth {
    pub seed: u64,
    pub units: usize,
    pub periods: usize,
    /// Cohort (first treated period, 1-based) → number of units.
    pub cohort_sizes: BTreeMap<usize, usize>,
    /// "g:t" → true ATT(g,t).
    pub att_gt: BTreeMap<String, f64>,
}

/// The effect of cohort `g` in period `t` (both 1-based): zero before adoption, then growing by
/// half its size each period (a programme whose effect builds up), larger for earlier cohorts.
pub fn panel_effect(g: usize, t: usize, periods: usize) -> f64 {
    if t < g {
        return 0.0;
    }
    let size = 1.0 + (periods - g) as f64 * 0.25;
    size * (1.0 + 0.5 * (t - g) as f64)
}

/// Staggered adoption in four cohorts (periods 3, 4, 5 and 6 when there are at least 6 periods;
/// earlier cohorts otherwise) plus never-treated units (40%): y_it = α_i + λ_t + τ(g,t) + ε_it with
/// α_i ~ N(0,1) correlated with the cohort (cohorts differ in levels, not trends), λ_t = 0.3·t,
/// ε ~ N(0,1). Parallel trends hold by construction; τ(g,t) = `panel_effect`.
pub fn staggered_panel(units: usize, periods: usize, seed: u64) -> (Vec<PanelRecord>, PanelTruth) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let periods = periods.max(3);
    let cohorts: Vec<usize> = (0..4).map(|k| (3 + k).min(periods)).collect();
    let mut records = Vec::with_capacity(units * periods);
    let mut cohort_sizes: BTreeMap<usize, usize> = BTreeMap::new();
    for unit in 1..=units {
        let u: f64 = rng.random();
        let first_treated = if u < 0.4 {
            0
        } else {
            cohorts[((u - 0.4) / 0.15).floor().min(3.0) as usize]
        };
        if first_treated > 0 {
            *cohort_sizes.entry(first_treated).or_default() += 1;
        }
        let level = standard_normal(&mut rng) + 0.2 * first_treated as f64;
        for period in 1..=periods {
            let effect = if first_treated > 0 {
                panel_effect(first_treated, period, periods)
            } else {
                0.0
            };
            let y = level + 0.3 * period as f64 + effect + standard_normal(&mut rng);
            records.push(PanelRecord {
                unit,
                period,
                first_treated,
                y,
            });
        }
    }
    let mut att_gt = BTreeMap::new();
    for &g in cohort_sizes.keys() {
        for t in 2..=periods {
            att_gt.insert(format!("{g}:{t}"), panel_effect(g, t, periods));
        }
    }
    (
        records,
        PanelTruth {
            seed,
            units,
            periods,
            cohort_sizes,
            att_gt,
        },
    )
}

/// Writes serialisable records as CSV.
pub fn records_to_csv<T: Serialize>(records: &[T]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for r in records {
        writer.serialize(r).expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("flushing memory cannot fail")
}

/// The 20 Italian regions, alphabetically (the units of the regional panel).
pub const ITALIAN_REGIONS: [&str; 20] = [
    "Abruzzo",
    "Basilicata",
    "Calabria",
    "Campania",
    "Emilia-Romagna",
    "Friuli-Venezia Giulia",
    "Lazio",
    "Liguria",
    "Lombardia",
    "Marche",
    "Molise",
    "Piemonte",
    "Puglia",
    "Sardegna",
    "Sicilia",
    "Toscana",
    "Trentino-Alto Adige",
    "Umbria",
    "Valle d'Aosta",
    "Veneto",
];

/// One row of a simulated regional panel (synthetic control).
#[derive(Debug, Clone, Serialize)]
pub struct RegionalRecord {
    pub unit: String,
    pub quarter: String,
    /// 1 for treated units from the adoption quarter on.
    pub treated: u8,
    pub outcome: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegionalTruth {
    pub seed: u64,
    pub units: usize,
    pub periods: usize,
    pub treated_units: Vec<String>,
    pub treatment_start: String,
    /// Quarter → true effect on the treated units (0 before adoption).
    pub effect_by_period: BTreeMap<String, f64>,
    /// Mean of the post-adoption effects (the estimand of the `overall` row).
    pub average_effect: f64,
}

/// The true effect `k` quarters after adoption: builds up over four quarters to 3 points.
pub fn regional_effect(k: usize) -> f64 {
    3.0 * ((k + 1) as f64 / 4.0).min(1.0)
}

fn quarter_label(period: usize) -> String {
    // Period 0 is 2016Q1.
    format!("{}Q{}", 2016 + period / 4, period % 4 + 1)
}

/// A regional panel with a known effect, for synthetic control: an interactive fixed-effects
/// (factor) model y_it = 40 + α_i + 0.05·t + l_i1·f_1t + l_i2·f_2t + ε_it (a seasonal factor and a
/// slow cycle, loadings ~ N(1, 0.5²) and N(0, 1), α_i ~ N(0, 4²), ε ~ N(0, 0.5²); adopters draw
/// α and the loadings with half the spread), like an
/// employment rate (%) of third-country nationals by region and quarter from 2016Q1.
/// With 20 units or fewer they are Italian regions and Calabria (or the first ones
/// alphabetically) adopt; otherwise units are `unit00001`… and the last 10% adopt. Adoption is in
/// the quarter that leaves `periods / 4` post-periods (at least one); the effect is
/// `regional_effect`.
pub fn regional_panel(
    units: usize,
    periods: usize,
    seed: u64,
) -> (Vec<RegionalRecord>, RegionalTruth) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let units = units.max(3);
    let periods = periods.max(4);
    let names: Vec<String> = if units <= ITALIAN_REGIONS.len() {
        let mut names: Vec<String> = ITALIAN_REGIONS[..units]
            .iter()
            .map(|s| s.to_string())
            .collect();
        names.sort();
        names
    } else {
        (1..=units).map(|u| format!("unit{u:05}")).collect()
    };
    let treated: Vec<usize> = if units <= ITALIAN_REGIONS.len() {
        vec![2]
    } else {
        ((units - units.div_ceil(10))..units).collect()
    };
    let post = (periods / 4).max(1);
    let start = periods - post;
    let cycle: Vec<f64> = (0..periods)
        .map(|t| (2.0 * std::f64::consts::PI * t as f64 / 24.0).sin() * 2.0)
        .collect();
    let season: Vec<f64> = (0..periods)
        .map(|t| [1.0, -0.5, -1.5, 1.0][t % 4])
        .collect();
    let mut records = Vec::with_capacity(units * periods);
    for (u, name) in names.iter().enumerate() {
        let is_treated = treated.contains(&u);
        // Adopters are typical regions (half the spread), so that a convex combination of the
        // others can reproduce them: the condition synthetic control relies on.
        let spread = if is_treated { 0.5 } else { 1.0 };
        let level = spread * 4.0 * standard_normal(&mut rng);
        let seasonal_loading = 1.0 + spread * 0.5 * standard_normal(&mut rng);
        let cycle_loading = spread * standard_normal(&mut rng);
        for t in 0..periods {
            let on = is_treated && t >= start;
            let effect = if on { regional_effect(t - start) } else { 0.0 };
            let y = 40.0
                + level
                + 0.05 * t as f64
                + seasonal_loading * season[t]
                + cycle_loading * cycle[t]
                + 0.5 * standard_normal(&mut rng)
                + effect;
            records.push(RegionalRecord {
                unit: name.clone(),
                quarter: quarter_label(t),
                treated: u8::from(on),
                outcome: (y * 1e4).round() / 1e4,
            });
        }
    }
    let effect_by_period: BTreeMap<String, f64> = (start..periods)
        .map(|t| (quarter_label(t), regional_effect(t - start)))
        .collect();
    let average_effect = effect_by_period.values().sum::<f64>() / post as f64;
    (
        records,
        RegionalTruth {
            seed,
            units,
            periods,
            treated_units: treated.iter().map(|&u| names[u].clone()).collect(),
            treatment_start: quarter_label(start),
            effect_by_period,
            average_effect,
        },
    )
}
