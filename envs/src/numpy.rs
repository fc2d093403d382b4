//! Scalar arithmetic exactly as NumPy and Python's `math` do it, where that differs from the
//! obvious Rust.
//!
//! Gymnasium's physics is written with `x**2`, which Python and NumPy evaluate by calling the C
//! library's `pow`. glibc's `pow` is not correctly rounded, so `x * x` differs from it in about one
//! case in a thousand (in the last bit). [`square`] reproduces `pow(x, 2)` exactly at nearly the
//! cost of a multiplication.

/// `x**2` as Python and NumPy compute it for a float64: the C library's `pow(x, 2.0)`.
///
/// glibc's `pow` is accurate to 0.52 ulp but not always correctly rounded: when the exact square
/// lies very near the midpoint between two doubles it may round the other way than `x * x`.
/// Such bits reach outputs that must be *equal* to Gymnasium's (Pendulum's reward) or chaotic
/// trajectories (Acrobot), so we reproduce `pow` exactly, but cheaply:
///
/// * `p = x·x` is the correctly rounded square; Dekker's exact product gives the rounding error
///   `e = x² − p` without FMA (split `x = hi + lo` into 26-bit halves, then
///   `e = ((hi·hi − p) + 2·hi·lo) + lo·lo`, every operation exact).
/// * If `|e|` is not within 1/32 ulp of half an ulp, the other neighbour of `x²` is more than
///   0.53 ulp away, so `pow` (error ≤ 0.52 ulp) must return `p`.
/// * Otherwise (about one call in sixteen), or outside the range where the split is exact, or at a
///   power of two, we call `pow` itself; `black_box` stops the compiler from rewriting
///   `pow(x, 2)` as `x * x`.
///
/// Bit-exact with Gymnasium on glibc targets; within one ulp of it elsewhere.
#[inline]
pub fn square(x: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const EXPONENT: u64 = 0x7ff << 52;
    let p = x * x;
    let bits = p.to_bits();
    if !(1e-280..1e280).contains(&p) || bits & MANTISSA == 0 {
        return x.powf(std::hint::black_box(2.0));
    }
    // Veltkamp split: hi holds the top 26 bits of x, lo the rest, x = hi + lo exactly.
    let c = 134_217_729.0 * x; // 2^27 + 1
    let hi = c - (c - x);
    let lo = x - hi;
    // Dekker: x² = p + e exactly.
    let e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo;
    // Half an ulp of p: 2^(exponent(p) − 53).
    let half_ulp = f64::from_bits(bits & EXPONENT) * (1.0 / 9_007_199_254_740_992.0);
    if (e.abs() - half_ulp).abs() <= half_ulp / 16.0 {
        x.powf(std::hint::black_box(2.0))
    } else {
        p
    }
}

/// `u**2` for a NumPy float32 scalar: NumPy calls the C library's `powf`, which is not always
/// correctly rounded either (glibc's misses by one f32 ulp in rare near-midpoint cases). Here the
/// band of doubt is too wide for a cheap exact shortcut, so we call `powf`; `black_box` stops the
/// compiler from rewriting it as `u * u`.
#[inline]
pub fn square_f32(u: f32) -> f32 {
    u.powf(std::hint::black_box(2.0))
}

#[cfg(test)]
mod tests {
    use super::square;
    use crate::rng::ResetRng;

    fn libm_square(x: f64) -> f64 {
        x.powf(std::hint::black_box(2.0))
    }

    #[test]
    fn np_square_is_the_c_librarys_pow() {
        let mut r = ResetRng::from_seed(5);
        let mut slow_path = 0;
        for i in 0..200_000 {
            // Magnitudes from 1e-150 to 1e150, both signs, plus the small numbers physics sees.
            let x = if i % 2 == 0 {
                r.uniform(-10.0, 10.0)
            } else {
                let m = r.uniform(1.0, 2.0);
                let sign = if r.next_f64() < 0.5 { -1.0 } else { 1.0 };
                sign * m * 10f64.powi((r.next_f64() * 300.0) as i32 - 150)
            };
            let ours = square(x);
            assert_eq!(ours.to_bits(), libm_square(x).to_bits(), "x = {x:e}");
            slow_path += (ours != x * x) as usize;
        }
        for x in [
            0.0,
            -0.0,
            1.0,
            2.0,
            0.5,
            1e-300,
            1e300,
            3e200,
            f64::INFINITY,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(square(x).to_bits(), libm_square(x).to_bits(), "x = {x:e}");
        }
        assert!(square(f64::NAN).is_nan());
        // pow and x*x differ in about one case in a thousand: the slow path is needed, and rare.
        eprintln!("{slow_path} of 200000 squares differ from x*x");
        assert!(
            slow_path > 0 && slow_path < 2_000,
            "{slow_path} squares differ from x*x"
        );
    }
}
