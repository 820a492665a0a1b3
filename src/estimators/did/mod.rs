//! Difference-in-differences.
//!
//! - `att_gt`: group-time average treatment effects ATT(g,t) for staggered adoption (Callaway &
//!   Sant'Anna 2021, J. Econometrics 225(2)), unconditional parallel trends, never-treated or
//!   not-yet-treated comparison units, varying or universal base period, anticipation. Each
//!   ATT(g,t) carries its influence function; analytic SEs and every aggregation reuse them.
//! - `moments`: the same cells without covariates from per-group moments of the outcomes, with
//!   the cross-products of their influence functions in place of the functions themselves (all
//!   that analytic SEs, the aggregations' SEs and the pre-test need).
//! - `aggregate`: simple, group, dynamic (event time) and calendar aggregations with the extra
//!   influence-function term for estimated group shares, as R `did::aggte` computes them.
//!
//! Estimand: ATT(g,t) = E[Y_t(g) − Y_t(0) | G = g]. Identification: parallel trends (in the
//! never-treated, or not-yet-treated, units) from the base period, no anticipation beyond the
//! `anticipation` periods, absorbing treatment, a balanced panel.
//! Reference implementation: R did 2.x (Callaway & Sant'Anna); validated on `mpdta` against the
//! published figures and the Python ports (`benches/peers/py_csdid_reference.py`).
//! Inference: analytic SEs from the influence functions (valid for a fixed number of periods as
//! the number of units grows); clustering sums the influence function within clusters.

pub mod aggregate;
pub mod att_gt;
pub mod conditional;
pub mod moments;
pub mod twfe;
pub mod two_by_two;
