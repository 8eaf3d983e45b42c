//! Brent's root finder (Brent 1973, the `zeroin` of Forsythe, Malcolm and Moler), as R's `uniroot` uses.
#![allow(
    clippy::float_cmp,
    reason = "ties and shortcuts are defined by exact equality, as in R and Kayenta"
)]
#![allow(
    clippy::suboptimal_flops,
    reason = "plain multiply-then-add reproduces R's and Kayenta's rounding; a fused multiply-add would change the last bits"
)]

/// A root found by [`zeroin`], with the work it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Root {
    /// The best approximation of the root.
    pub value: f64,
    /// Function evaluations made, not counting the two at the bracket ends.
    pub evaluations: usize,
}

/// Finds a root of `f` in `[a, b]`, given `fa = f(a)` and `fb = f(b)` of opposite signs.
///
/// Stops when the bracket is narrower than `2 · EPSILON · |b| + tolerance / 2` or
/// `f(b) == 0`; otherwise, after `max_iterations + 1` steps (R's and Kayenta's count),
/// returns the last iterate. This is the classical algorithm: bisection-safeguarded
/// inverse quadratic and secant steps, with the same step rules as R's `R_zeroin2`
/// and Kayenta's port of it, so roots agree with theirs to the last bit on the same
/// function values.
pub(crate) fn zeroin(
    mut f: impl FnMut(f64) -> f64,
    mut a: f64,
    mut b: f64,
    mut fa: f64,
    mut fb: f64,
    tolerance: f64,
    max_iterations: usize,
) -> Root {
    if fa == 0.0 {
        return Root {
            value: a,
            evaluations: 0,
        };
    }
    if fb == 0.0 {
        return Root {
            value: b,
            evaluations: 0,
        };
    }
    let mut c = a;
    let mut fc = fa;
    let mut evaluations = 0;
    for _ in 0..=max_iterations {
        let previous_step = b - a;
        if fc.abs() < fb.abs() {
            // Keep b as the best approximation.
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tolerance_now = 2.0 * f64::EPSILON * b.abs() + tolerance / 2.0;
        let mut step = (c - b) / 2.0;
        if step.abs() <= tolerance_now || fb == 0.0 {
            return Root {
                value: b,
                evaluations,
            };
        }
        if previous_step.abs() >= tolerance_now && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // Secant step.
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // Inverse quadratic interpolation.
                let qa = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qa * (qa - t1) - (b - a) * (t1 - 1.0));
                q = (qa - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < 0.75 * cb * q - (tolerance_now * q).abs() / 2.0
                && p < (previous_step * q / 2.0).abs()
            {
                step = p / q;
            }
        }
        if step.abs() < tolerance_now {
            // As R: a zero step goes down, not up.
            step = if step > 0.0 {
                tolerance_now
            } else {
                -tolerance_now
            };
        }
        a = b;
        fa = fb;
        b += step;
        fb = f(b);
        evaluations += 1;
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Root {
        value: b,
        evaluations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_smooth_and_step_roots_within_tolerance() {
        let cubic = |x: f64| x * x * x - 2.0 * x - 5.0;
        let root = zeroin(cubic, 2.0, 3.0, cubic(2.0), cubic(3.0), 1e-12, 1000);
        assert!((root.value - 2.094_551_481_542_327).abs() < 1e-11);
        // A step function has no zero; zeroin closes in on the jump at 0.3.
        let step = |x: f64| if x < 0.3 { 1.0 } else { -1.0 };
        let root = zeroin(step, 0.0, 1.0, 1.0, -1.0, 1e-9, 1000);
        assert!((root.value - 0.3).abs() < 1e-9);
        // The iteration budget is honoured: max_iterations + 1 steps, as R counts.
        let root = zeroin(step, 0.0, 1.0, 1.0, -1.0, 0.0, 5);
        assert_eq!(root.evaluations, 6);
        // An end that is already a root is returned untouched.
        assert_eq!(zeroin(step, 0.0, 1.0, 0.0, -1.0, 1e-9, 10).value, 0.0);
    }
}
