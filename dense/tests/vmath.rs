//! The vectorised exp and tanh meet their documented error bounds over the whole f32 range, on
//! every path, and handle ±inf, NaN, ±0 and the ragged tails of slices.

use dense::Kernel;
use dense::vmath::{
    EXP_MAX_REL_ERROR, TANH_MAX_REL_ERROR, exp_in_place_with, softmax_in_place, tanh_in_place_with,
};

/// A sweep of f32 values: every 2^13-th bit pattern (both signs, all exponents), ~1M values.
fn sweep() -> Vec<f32> {
    (0..=u32::MAX / 4099)
        .map(|i| f32::from_bits(i.wrapping_mul(4099)))
        .filter(|x| !x.is_nan())
        .collect()
}

#[test]
fn exp_error_is_within_the_documented_bound() {
    let xs: Vec<f32> = sweep().into_iter().filter(|x| x.abs() < 110.0).collect();
    for kernel in Kernel::available() {
        let mut ys = xs.clone();
        exp_in_place_with(kernel, &mut ys);
        let mut worst = (0.0f64, 0.0f32);
        for (&x, &y) in xs.iter().zip(&ys) {
            let truth = (x as f64).exp();
            if truth > f32::MAX as f64 {
                assert_eq!(
                    y,
                    f32::INFINITY,
                    "{kernel:?}: exp({x}) must overflow to inf"
                );
            } else if truth >= f32::MIN_POSITIVE as f64 {
                let rel = ((y as f64 - truth) / truth).abs();
                if rel > worst.0 {
                    worst = (rel, x);
                }
            } else {
                // Subnormal or zero result: within one subnormal step (2^-149) of the truth.
                let step = f32::from_bits(1) as f64;
                assert!(
                    (y as f64 - truth).abs() <= step,
                    "{kernel:?}: exp({x}) = {y:e}, truth {truth:e}"
                );
            }
        }
        assert!(
            worst.0 <= EXP_MAX_REL_ERROR as f64,
            "{kernel:?}: worst relative error of exp is {:e} at x = {}",
            worst.0,
            worst.1
        );
        eprintln!(
            "{kernel:?}: exp worst relative error {:e} at {}",
            worst.0, worst.1
        );
    }
}

#[test]
fn tanh_error_is_within_the_documented_bound() {
    let xs = sweep();
    for kernel in Kernel::available() {
        let mut ys = xs.clone();
        tanh_in_place_with(kernel, &mut ys);
        let mut worst = (0.0f64, 0.0f32);
        for (&x, &y) in xs.iter().zip(&ys) {
            if x == 0.0 {
                assert_eq!(
                    y.to_bits(),
                    x.to_bits(),
                    "{kernel:?}: tanh(±0) keeps the sign"
                );
                continue;
            }
            let rel = tanh_rel_error(kernel, x, y);
            if rel > worst.0 {
                worst = (rel, x);
            }
        }
        check_tanh_worst(kernel, worst, "sweep of the whole range");
    }
}

/// |y − tanh x| / |tanh x| against `f64`, after checking that |y| ≤ 1.
fn tanh_rel_error(kernel: Kernel, x: f32, y: f32) -> f64 {
    assert!(y.abs() <= 1.0, "{kernel:?}: |tanh({x:e})| = {y:e} > 1");
    let truth = (x as f64).tanh();
    ((y as f64 - truth) / truth).abs()
}

/// Prints a sweep's worst relative error of tanh (and where) and holds it to the documented bound.
fn check_tanh_worst(kernel: Kernel, (err, x): (f64, f32), sweep: &str) {
    eprintln!("{kernel:?}: tanh worst relative error {err:e} at {x:e} ({sweep})");
    assert!(
        err <= TANH_MAX_REL_ERROR as f64,
        "{kernel:?}: worst relative error of tanh is {err:e} at x = {x:e} ({sweep})"
    );
}

/// Denser where tanh is neither x nor ±1: every 61st bit pattern of |x| ≤ 10 (about 18 M values
/// per sign, all exponents of the range), both signs, each path at the documented bound.
#[test]
fn tanh_dense_sweep_of_the_curved_range_is_within_the_bound() {
    let top = 10.0f32.to_bits();
    let xs: Vec<f32> = (0..top)
        .step_by(61)
        .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
        .collect();
    for kernel in Kernel::available() {
        let mut ys = xs.clone();
        tanh_in_place_with(kernel, &mut ys);
        let worst = xs
            .iter()
            .zip(&ys)
            .filter(|(x, _)| **x != 0.0)
            .map(|(&x, &y)| (tanh_rel_error(kernel, x, y), x))
            .fold((0.0f64, 0.0f32), |w, e| if e.0 > w.0 { e } else { w });
        check_tanh_worst(kernel, worst, "dense sweep of |x| ≤ 10");
    }
}

/// Every non-negative `f32` on every path (tanh is odd and the sign is copied back exactly, so
/// the negative half is the same numbers): the documented bound, `tanh x ≤ 1`, and the worst case
/// printed. About a minute per path in a release build:
/// `cargo test --release -p dense --test vmath -- --ignored --nocapture`.
#[test]
#[ignore = "a minute per path in a release build; run with --ignored"]
fn every_f32_tanh_is_within_the_bound() {
    const CHUNK: u32 = 1 << 20;
    let top = f32::INFINITY.to_bits();
    for kernel in Kernel::available() {
        let mut worst = (0.0f64, 0.0f32);
        let mut ys = Vec::with_capacity(CHUNK as usize);
        for start in (1..=top).step_by(CHUNK as usize) {
            let end = start.saturating_add(CHUNK - 1).min(top);
            ys.clear();
            ys.extend((start..=end).map(f32::from_bits));
            tanh_in_place_with(kernel, &mut ys);
            for (b, &y) in (start..=end).zip(&ys) {
                let x = f32::from_bits(b);
                let rel = tanh_rel_error(kernel, x, y);
                if rel > worst.0 {
                    worst = (rel, x);
                }
            }
        }
        check_tanh_worst(kernel, worst, "every f32");
    }
}

#[test]
fn special_values_on_every_path_and_every_tail_length() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        88.72,
        -87.5,
        -103.0,
        1e-30,
    ];
    for kernel in Kernel::available() {
        // Every slice length 0..=40 so the SIMD tails of all widths are exercised.
        for len in 0..=40 {
            let xs: Vec<f32> = (0..len).map(|i| specials[i % specials.len()]).collect();
            let mut e = xs.clone();
            let mut t = xs.clone();
            exp_in_place_with(kernel, &mut e);
            tanh_in_place_with(kernel, &mut t);
            for ((&x, &ex), &th) in xs.iter().zip(&e).zip(&t) {
                if x.is_nan() {
                    assert!(ex.is_nan() && th.is_nan(), "{kernel:?}: NaN must stay NaN");
                    continue;
                }
                if x == 0.0 {
                    assert_eq!(
                        th.to_bits(),
                        x.to_bits(),
                        "{kernel:?}: tanh({x:?}) = {th:?} (slice of {len})"
                    );
                }
                let (et, tt) = ((x as f64).exp(), (x as f64).tanh());
                assert!(
                    (ex as f64 - et).abs() <= 3e-7 * et + f32::from_bits(1) as f64
                        || (et > f32::MAX as f64 && ex == f32::INFINITY),
                    "{kernel:?}: exp({x}) = {ex}, truth {et}"
                );
                assert!(
                    (th as f64 - tt).abs() <= 5e-7 * tt.abs(),
                    "{kernel:?}: tanh({x}) = {th}, truth {tt}"
                );
            }
        }
        let mut inf = [f32::INFINITY, f32::NEG_INFINITY];
        tanh_in_place_with(kernel, &mut inf);
        assert_eq!(inf, [1.0, -1.0]);
        let mut e = [f32::NEG_INFINITY, f32::INFINITY, 0.0];
        exp_in_place_with(kernel, &mut e);
        assert_eq!(e, [0.0, f32::INFINITY, 1.0]);
    }
}

/// Slices starting at every offset within a cache line (the SIMD loops align themselves first)
/// give the same bits as the whole-slice call.
#[test]
fn results_do_not_depend_on_slice_alignment() {
    let base: Vec<f32> = (0..80).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
    for kernel in Kernel::available() {
        let mut whole_t = base.clone();
        let mut whole_e = base.clone();
        tanh_in_place_with(kernel, &mut whole_t);
        exp_in_place_with(kernel, &mut whole_e);
        for offset in 0..16 {
            for len in [1usize, 15, 16, 17, 40, 64 - offset] {
                let mut t = base.clone();
                let mut e = base.clone();
                tanh_in_place_with(kernel, &mut t[offset..offset + len]);
                exp_in_place_with(kernel, &mut e[offset..offset + len]);
                for i in 0..80 {
                    let inside = i >= offset && i < offset + len;
                    let (wt, we) = if inside {
                        (whole_t[i], whole_e[i])
                    } else {
                        (base[i], base[i])
                    };
                    assert_eq!(
                        t[i].to_bits(),
                        wt.to_bits(),
                        "{kernel:?} tanh offset {offset} len {len} [{i}]"
                    );
                    assert_eq!(
                        e[i].to_bits(),
                        we.to_bits(),
                        "{kernel:?} exp offset {offset} len {len} [{i}]"
                    );
                }
            }
        }
    }
}

#[test]
fn softmax_matches_f64() {
    let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin() * 20.0).collect();
    let max = row.iter().copied().fold(f32::MIN, f32::max) as f64;
    let z: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    let want: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp() / z).collect();
    softmax_in_place(&mut row);
    for (g, w) in row.iter().zip(&want) {
        assert!((*g as f64 - w).abs() <= 1e-6 * w + 1e-12, "{g} vs {w}");
    }
}

/// Inputs around the ties of the range reduction: `x` whose `x·log₂e` rounds (in f32) to
/// `k + ½` for every `k` in exp's range, and the few floats either side of each.
fn range_reduction_ties() -> Vec<f32> {
    let mut xs = Vec::new();
    for k in -151..=129 {
        let centre = (k as f32 + 0.5) / std::f32::consts::LOG2_E;
        for d in -3i32..=3 {
            let x = f32::from_bits((centre.to_bits() as i32 + d) as u32);
            for x in [x, 0.5 * x] {
                xs.push(x);
            }
        }
    }
    assert!(
        xs.iter()
            .any(|&x| (x * std::f32::consts::LOG2_E).fract().abs() == 0.5),
        "no exact tie among the inputs"
    );
    xs
}

/// The two SIMD paths compute exp with the same fused multiply-adds and one rounding of `p·2ⁿ`
/// (AVX-512 by `scalef`, AVX2 by two exact power-of-two multiplies), so their bits agree, ties of
/// the range reduction included. (The portable path rounds each product of the reduction and
/// the polynomial separately, so it differs in the last bit at times.) Needs both paths.
#[test]
fn avx512_and_avx2_exp_have_the_same_bits() {
    if !(Kernel::Avx512.is_available() && Kernel::Avx2Fma.is_available()) {
        eprintln!("skipped: this CPU lacks AVX-512F or AVX2+FMA");
        return;
    }
    let mut xs = sweep();
    xs.extend(range_reduction_ties());
    let (mut wide, mut narrow) = (xs.clone(), xs.clone());
    exp_in_place_with(Kernel::Avx512, &mut wide);
    exp_in_place_with(Kernel::Avx2Fma, &mut narrow);
    for ((&x, &a), &b) in xs.iter().zip(&wide).zip(&narrow) {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "exp({x:e}): AVX-512 {a:e}, AVX2 {b:e}"
        );
    }
}

/// AVX2's tanh is the portable code's rational function, rounded step by step as it rounds (each
/// `mul_add` is one fused multiply-add), so the two have the same bits (AVX-512's `e^{2|x|}` route
/// makes its own).
#[test]
fn avx2_tanh_has_the_bits_of_the_portable_algorithm() {
    let mut xs = sweep();
    xs.extend(range_reduction_ties());
    let want: Vec<u32> = xs
        .iter()
        .map(|&x| dense::vmath::tanh_approx(x).to_bits())
        .collect();
    for kernel in Kernel::available()
        .into_iter()
        .filter(|&k| k != Kernel::Avx512)
    {
        let mut ys = xs.clone();
        tanh_in_place_with(kernel, &mut ys);
        for ((&x, &y), &w) in xs.iter().zip(&ys).zip(&want) {
            assert_eq!(
                y.to_bits(),
                w,
                "{kernel:?}: tanh({x:e}) = {y:e}, portable {:e}",
                f32::from_bits(w)
            );
        }
    }
}
