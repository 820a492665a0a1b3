//! Exact simplex-constrained least squares, min ‖A w − b‖² subject to w ≥ 0, Σw = 1, for the
//! classic synthetic control and the conformal refits.
//!
//! The nested V search solves this thousands of times per fit (10,500 for Prop 99, ×39 with the
//! placebos), so the solver is an active-set method on the few-by-few normal equations: the
//! solution has at most rank(A) + 1 donors, the face problems are tiny, and a solve takes
//! microseconds. It is exact up to rounding (a 1e-10 relative ridge on the face makes a
//! rank-deficient face solvable). If it fails to terminate, clarabel (interior point, in the
//! residual form rᵀr subject to A w − r = b, `../shared/rust-stack.md`) solves the problem
//! instead; the tests check the two agree. A non-converged solve is reported, never hidden.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus, ZeroConeT,
};
use ndarray::ArrayView2;

#[derive(Debug, Clone)]
pub struct SimplexFit {
    pub weights: Vec<f64>,
    /// Solved to clarabel's default tolerances (1e-8), possibly "almost".
    pub converged: bool,
}

/// `a`: m rows (predictors or periods) × J columns (donors); `b`: the treated unit's m values.
pub fn simplex_least_squares(a: ArrayView2<f64>, b: &[f64]) -> SimplexFit {
    match active_set(a, b) {
        Some(weights) => SimplexFit {
            weights,
            converged: true,
        },
        None => interior_point(a, b),
    }
}

/// Primal active-set method (Lawson–Hanson, adapted to the simplex). `None` if it does not
/// terminate within its iteration budget or meets a non-finite value.
pub fn active_set(a: ArrayView2<f64>, b: &[f64]) -> Option<Vec<f64>> {
    let (m, j) = a.dim();
    if j == 1 {
        return Some(vec![1.0]);
    }
    // Normal equations: f(w) = wᵀGw − 2cᵀw + const; half gradient Gw − c.
    let gram = a.t().dot(&a);
    let c: Vec<f64> = (0..j)
        .map(|d| (0..m).map(|r| a[[r, d]] * b[r]).sum())
        .collect();
    let scale = (0..j)
        .map(|d| gram[[d, d]])
        .fold(0.0f64, f64::max)
        .max(1e-300);
    let tolerance = 1e-12 * scale.max(c.iter().fold(0.0f64, |x, v| x.max(v.abs())));
    // Start at the best single donor.
    let first = (0..j)
        .min_by(|&x, &y| (gram[[x, x]] - 2.0 * c[x]).total_cmp(&(gram[[y, y]] - 2.0 * c[y])))?;
    let mut w = vec![0.0; j];
    w[first] = 1.0;
    let mut support = vec![first];
    let gradient =
        |w: &[f64], d: usize| -> f64 { (0..j).map(|e| gram[[d, e]] * w[e]).sum::<f64>() - c[d] };
    for _ in 0..(20 * j + 100) {
        // Optimal when no donor outside the support improves on the support's common gradient.
        let nu = support.iter().map(|&d| gradient(&w, d)).sum::<f64>() / support.len() as f64;
        let entering = (0..j)
            .filter(|d| !support.contains(d))
            .map(|d| (d, gradient(&w, d)))
            .filter(|(_, g)| *g < nu - tolerance)
            .min_by(|x, y| x.1.total_cmp(&y.1));
        let Some((entering, _)) = entering else {
            return w.iter().all(|v| v.is_finite()).then_some(w);
        };
        support.push(entering);
        // Inner loop: move towards the face optimum, dropping donors that reach zero.
        loop {
            let z = face_solution(&gram, &c, &support, scale)?;
            if z.iter().all(|v| *v > 0.0) {
                for (k, &d) in support.iter().enumerate() {
                    w[d] = z[k];
                }
                break;
            }
            let mut step = 1.0f64;
            for (k, &d) in support.iter().enumerate() {
                if z[k] <= 0.0 {
                    step = step.min(w[d] / (w[d] - z[k]));
                }
            }
            for (k, &d) in support.iter().enumerate() {
                w[d] += step * (z[k] - w[d]);
            }
            let before = support.len();
            support.retain(|&d| w[d] > 1e-15);
            for d in 0..j {
                if !support.contains(&d) {
                    w[d] = 0.0;
                }
            }
            if support.is_empty() || support.len() == before {
                return None;
            }
            let total: f64 = support.iter().map(|&d| w[d]).sum();
            for &d in &support {
                w[d] /= total;
            }
        }
    }
    None
}

/// Minimiser of f on the affine hull of the support (Σw = 1), via the regularised face system.
fn face_solution(
    gram: &ndarray::Array2<f64>,
    c: &[f64],
    support: &[usize],
    scale: f64,
) -> Option<Vec<f64>> {
    let s = support.len();
    let ridge = 1e-10 * scale;
    let h = ndarray::Array2::from_shape_fn((s, s), |(x, y)| {
        gram[[support[x], support[y]]] + if x == y { ridge } else { 0.0 }
    });
    let l = crate::linalg::cholesky(h.view())?;
    let cs = ndarray::Array1::from_iter(support.iter().map(|&d| c[d]));
    let ones = ndarray::Array1::<f64>::ones(s);
    let u = crate::linalg::cholesky_solve(l.view(), cs.view());
    let v = crate::linalg::cholesky_solve(l.view(), ones.view());
    let nu = (u.sum() - 1.0) / v.sum();
    let z: Vec<f64> = (0..s).map(|k| u[k] - nu * v[k]).collect();
    z.iter().all(|x| x.is_finite()).then_some(z)
}

/// The same problem by clarabel's interior-point method (the fallback, and the tests' oracle).
pub fn interior_point(a: ArrayView2<f64>, b: &[f64]) -> SimplexFit {
    let (m, j) = a.dim();
    if j == 1 {
        return SimplexFit {
            weights: vec![1.0],
            converged: true,
        };
    }
    // Variables: w (j), then r (m). P = 2·I on r (clarabel minimises ½xᵀPx).
    let n = j + m;
    let p = CscMatrix::new(
        n,
        n,
        (0..=n).map(|c| c.saturating_sub(j)).collect(),
        (j..n).collect(),
        vec![2.0; m],
    );
    // Rows: m residual equalities, the sum-to-one equality, then −w ≥ 0 slacks.
    let rows = m + 1 + j;
    let mut colptr = Vec::with_capacity(n + 1);
    let mut rowval = Vec::with_capacity(j * (m + 2) + m);
    let mut nzval = Vec::with_capacity(j * (m + 2) + m);
    colptr.push(0);
    for c in 0..j {
        for r in 0..m {
            rowval.push(r);
            nzval.push(a[[r, c]]);
        }
        rowval.push(m);
        nzval.push(1.0);
        rowval.push(m + 1 + c);
        nzval.push(-1.0);
        colptr.push(rowval.len());
    }
    for r in 0..m {
        rowval.push(r);
        nzval.push(-1.0);
        colptr.push(rowval.len());
    }
    let constraints = CscMatrix::new(rows, n, colptr, rowval, nzval);
    let mut rhs = b.to_vec();
    rhs.push(1.0);
    rhs.extend(std::iter::repeat_n(0.0, j));
    let cones = [ZeroConeT(m + 1), NonnegativeConeT(j)];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .build()
        .expect("valid settings");
    let q = vec![0.0; n];
    let Ok(mut solver) = DefaultSolver::new(&p, &q, &constraints, &rhs, &cones, settings) else {
        return SimplexFit {
            weights: vec![f64::NAN; j],
            converged: false,
        };
    };
    solver.solve();
    let converged = matches!(
        solver.solution.status,
        SolverStatus::Solved | SolverStatus::AlmostSolved
    );
    // Interior-point weights can come back as −1e-12: clip and renormalise.
    let clipped: Vec<f64> = solver.solution.x[..j].iter().map(|w| w.max(0.0)).collect();
    let sum: f64 = clipped.iter().sum();
    SimplexFit {
        weights: clipped.iter().map(|w| w / sum).collect(),
        converged: converged && sum > 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn recovers_an_exact_convex_combination() {
        let a = array![
            [1.0, 0.0, 5.0],
            [0.0, 1.0, 5.0],
            [1.0, 1.0, -4.0],
            [2.0, 0.5, 1.0]
        ];
        let b: Vec<f64> = (0..4).map(|r| 0.3 * a[[r, 0]] + 0.7 * a[[r, 1]]).collect();
        let fit = simplex_least_squares(a.view(), &b);
        assert!(fit.converged);
        assert!((fit.weights[0] - 0.3).abs() < 1e-6, "{:?}", fit.weights);
        assert!((fit.weights[1] - 0.7).abs() < 1e-6);
        assert!(fit.weights[2] < 1e-6);
    }

    #[test]
    fn active_set_agrees_with_the_interior_point_solver() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..300 {
            let m = 2 + case % 9;
            let j = 2 + (case * 7) % 40;
            let a = ndarray::Array2::from_shape_fn((m, j), |_| rng.random::<f64>() * 10.0);
            let b: Vec<f64> = (0..m).map(|_| rng.random::<f64>() * 12.0 - 1.0).collect();
            let loss = |w: &[f64]| -> f64 {
                (0..m)
                    .map(|r| (b[r] - (0..j).map(|d| a[[r, d]] * w[d]).sum::<f64>()).powi(2))
                    .sum()
            };
            let exact = active_set(a.view(), &b).expect("terminates");
            let oracle = interior_point(a.view(), &b);
            assert!(oracle.converged);
            assert!((exact.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(exact.iter().all(|w| *w >= 0.0));
            let (fa, fo) = (loss(&exact), loss(&oracle.weights));
            assert!(
                fa <= fo + 1e-7 * fo.max(1.0),
                "case {case}: active set {fa} vs clarabel {fo}"
            );
        }
    }

    #[test]
    fn projects_a_target_outside_the_hull_onto_it() {
        // b lies beyond donor 0: the best convex combination is donor 0 alone.
        let a = array![[1.0, 0.0], [0.0, 1.0]];
        let fit = simplex_least_squares(a.view(), &[2.0, -1.0]);
        assert!((fit.weights[0] - 1.0).abs() < 1e-6, "{:?}", fit.weights);
    }
}
