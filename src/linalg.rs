//! Small dense linear algebra for the few-by-few systems the estimators need (logit Hessians,
//! Mahalanobis covariances, regression normal equations). Kept here rather than pulling in a
//! LAPACK binding: the systems have at most a few dozen columns, and a hand-written Cholesky is
//! exact enough (we validate every estimator against R to 1e-6) and builds everywhere.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix, or `None` when the
/// matrix is not numerically positive definite (a pivot below `1e-12` times the largest diagonal).
pub fn cholesky(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let scale = (0..n)
        .map(|i| a[[i, i]].abs())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut diagonal = a[[j, j]];
        for k in 0..j {
            diagonal -= l[[j, k]] * l[[j, k]];
        }
        if !(diagonal > 1e-12 * scale) {
            return None;
        }
        let pivot = diagonal.sqrt();
        l[[j, j]] = pivot;
        for i in (j + 1)..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = s / pivot;
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `L`.
pub fn cholesky_solve(l: ArrayView2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut y = Array1::<f64>::zeros(n);
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[[i, k]] * y[k];
        }
        y[i] = s / l[[i, i]];
    }
    let mut x = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in (i + 1)..n {
            s -= l[[k, i]] * x[k];
        }
        x[i] = s / l[[i, i]];
    }
    x
}

/// Inverse of a symmetric positive-definite matrix, or `None` when it is singular.
pub fn inverse_spd(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let l = cholesky(a)?;
    let n = a.nrows();
    let mut inverse = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut e = Array1::<f64>::zeros(n);
        e[j] = 1.0;
        inverse
            .column_mut(j)
            .assign(&cholesky_solve(l.view(), e.view()));
    }
    Some(inverse)
}

/// Row `i` of `x` with a leading 1: the regression design row when the intercept is implicit.
pub fn with_intercept(x: ArrayView2<f64>, i: usize) -> Array1<f64> {
    let mut row = Array1::zeros(x.ncols() + 1);
    row[0] = 1.0;
    for j in 0..x.ncols() {
        row[j + 1] = x[[i, j]];
    }
    row
}

/// Column means and the sample covariance matrix (divisor n − 1) of the rows of `x`.
pub fn covariance(x: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = x.nrows();
    let p = x.ncols();
    let mean = x.sum_axis(ndarray::Axis(0)) / n.max(1) as f64;
    let mut cov = Array2::<f64>::zeros((p, p));
    for row in x.rows() {
        for a in 0..p {
            let da = row[a] - mean[a];
            for b in 0..=a {
                cov[[a, b]] += da * (row[b] - mean[b]);
            }
        }
    }
    let divisor = (n.max(2) - 1) as f64;
    for a in 0..p {
        for b in 0..=a {
            cov[[a, b]] /= divisor;
            cov[[b, a]] = cov[[a, b]];
        }
    }
    (mean, cov)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const TOL_CLOSED_FORM: f64 = 1e-12;

    #[test]
    fn inverse_of_a_known_matrix() {
        let a = array![[4.0, 2.0], [2.0, 3.0]];
        let inverse = inverse_spd(a.view()).expect("positive definite");
        // det = 8, inverse = [[3, -2], [-2, 4]] / 8
        assert!((inverse[[0, 0]] - 3.0 / 8.0).abs() < TOL_CLOSED_FORM);
        assert!((inverse[[0, 1]] + 2.0 / 8.0).abs() < TOL_CLOSED_FORM);
        assert!((inverse[[1, 1]] - 4.0 / 8.0).abs() < TOL_CLOSED_FORM);
    }

    #[test]
    fn singular_matrix_is_refused() {
        let a = array![[1.0, 2.0], [2.0, 4.0]];
        assert!(cholesky(a.view()).is_none());
    }

    #[test]
    fn covariance_uses_n_minus_one() {
        let x = array![[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]];
        let (mean, cov) = covariance(x.view());
        assert!((mean[0] - 3.0).abs() < TOL_CLOSED_FORM);
        assert!((cov[[0, 0]] - 4.0).abs() < TOL_CLOSED_FORM);
        assert!((cov[[0, 1]] - 8.0).abs() < TOL_CLOSED_FORM);
    }
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: (eigenvalues,
/// eigenvectors as columns). Exact to rounding for the cluster-sized blocks of CR2.
pub fn symmetric_eigen(a: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut m = a.to_owned();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[[i, j]].powi(2))
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                if m[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[[q, q]] - m[[p, p]]) / (2.0 * m[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[[k, p]], m[[k, q]]);
                    m[[k, p]] = c * mkp - s * mkq;
                    m[[k, q]] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[[p, k]], m[[q, k]]);
                    m[[p, k]] = c * mpk - s * mqk;
                    m[[q, k]] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    (m.diag().to_owned(), v)
}

/// Symmetric inverse square root M^{-1/2}; eigenvalues below 1e-12 are treated as zero (their
/// directions get zero weight), as a generalised inverse would.
pub fn inverse_sqrt_symmetric(a: ArrayView2<f64>) -> Array2<f64> {
    let (values, vectors) = symmetric_eigen(a);
    let n = a.nrows();
    let mut out = Array2::<f64>::zeros((n, n));
    for (k, &lambda) in values.iter().enumerate() {
        if lambda > 1e-12 {
            let f = 1.0 / lambda.sqrt();
            for i in 0..n {
                for j in 0..n {
                    out[[i, j]] += f * vectors[[i, k]] * vectors[[j, k]];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod eigen_tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn inverse_square_root_squares_to_the_inverse() {
        let a = array![[2.0, 0.5], [0.5, 1.0]];
        let r = inverse_sqrt_symmetric(a.view());
        let back = r.dot(&r).dot(&a);
        for i in 0..2 {
            for j in 0..2 {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((back[[i, j]] - expected).abs() < 1e-12);
            }
        }
    }
}
