//! Small products (an attention head's) skip packing on the AVX paths, and must give exactly the
//! packed driver's bits: the routed GEMM against `gemm_packed_f32` / `gemm_packed_f64` (f64 and
//! the portable path keep the packed driver; the check guards that) compared with `to_bits`,
//! on random shapes on both sides of the small-product limit, strided and transposed views of A,
//! B (on AVX2 a small product copies a transposed B into row-major order first) and C, the alpha
//! and beta the callers use (1, 1/√d, 0, 1) and random ones, for every kernel path this CPU has;
//! and the six products of one attention head, in the views the attention passes.

use dense::gemm::{gemm_packed_f32, gemm_packed_f64};
use dense::{Activation, Epilogue, Kernel, MatMut, MatRef, gemm_fused_with};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a matrix sits in memory.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// Row-major with `pad` unused values after each row (0: dense).
    Rows(usize),
    /// Column-major (a transposed view) with `pad` unused values after each column.
    Cols(usize),
}

impl Layout {
    /// (row stride, column stride, values needed) of a `rows × cols` matrix.
    fn strides(self, rows: usize, cols: usize) -> (usize, usize, usize) {
        match self {
            Layout::Rows(pad) => (cols + pad, 1, rows * (cols + pad)),
            Layout::Cols(pad) => (1, rows + pad, cols * (rows + pad)),
        }
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        (0usize..3).prop_map(Layout::Rows),
        (0usize..3).prop_map(Layout::Cols),
        // The attention's row stride: the head's slice of a [T, 3·D] row.
        Just(Layout::Rows(176)),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    layouts: [Layout; 3],
    alpha: f64,
    beta: f64,
    bias_tanh: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    // m, n ≥ 5 and k ≥ 2, past the GEMV and outer-product routes; up to 80·100·80
    // multiply-adds, both sides of the small-product limits (2^15 on AVX-512, 2^18 on AVX2), of
    // the depth limit (64) and of AVX2's row block (MC = 64).
    (
        (5usize..80, 5usize..100, 2usize..80),
        [layout(), layout(), layout()],
        prop_oneof![Just(1.0), Just(0.25), -2.0f64..2.0],
        prop_oneof![Just(0.0), Just(1.0), -1.5f64..1.5],
        prop::bool::weighted(0.2),
        any::<u64>(),
    )
        .prop_map(|((m, n, k), layouts, alpha, beta, bias_tanh, seed)| Case {
            m,
            n,
            k,
            layouts,
            alpha,
            beta,
            bias_tanh,
            seed,
        })
}

/// Random operands of a case, as f64 (cast to f32 for the f32 runs): A, B, C's start, bias.
struct Data {
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    bias: Vec<f64>,
}

impl Data {
    fn new(case: &Case) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
        let [la, lb, lc] = case.layouts;
        let mut fill = |len: usize| (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let a = fill(la.strides(case.m, case.k).2);
        let b = fill(lb.strides(case.k, case.n).2);
        let mut c: Vec<f64> = fill(lc.strides(case.m, case.n).2);
        if case.beta == 0.0 {
            // beta = 0: C must not be read, so NaN there must not show.
            c.iter_mut().for_each(|x| *x = f64::NAN);
        }
        let bias = fill(case.n);
        Data { a, b, c, bias }
    }
}

/// Views of a case's operands over `a`, `b`, and C's buffer `c`.
fn views<'a, T: Copy>(
    case: &Case,
    a: &'a [T],
    b: &'a [T],
    c: &'a mut [T],
) -> (MatRef<'a, T>, MatRef<'a, T>, MatMut<'a, T>) {
    let [la, lb, lc] = case.layouts;
    let (m, n, k) = (case.m, case.n, case.k);
    let (ars, acs, _) = la.strides(m, k);
    let (brs, bcs, _) = lb.strides(k, n);
    let (crs, ccs, _) = lc.strides(m, n);
    (
        MatRef::new(a, m, k, ars, acs),
        MatRef::new(b, k, n, brs, bcs),
        MatMut::new(c, m, n, crs, ccs),
    )
}

fn epilogue<'a, T: Copy>(case: &Case, bias: &'a [T]) -> Epilogue<'a, T> {
    if case.bias_tanh {
        Epilogue::new(Some(bias), Activation::Tanh)
    } else {
        Epilogue::none()
    }
}

/// The f32 routed product equals the packed driver bit for bit on `kernel`.
fn check_f32(kernel: Kernel, case: &Case, data: &Data) -> Result<(), TestCaseError> {
    let cast = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let (a, b, bias) = (cast(&data.a), cast(&data.b), cast(&data.bias));
    let (alpha, beta) = (case.alpha as f32, case.beta as f32);
    let mut routed = cast(&data.c);
    let mut packed = routed.clone();
    let (av, bv, cv) = views(case, &a, &b, &mut routed);
    gemm_fused_with(kernel, alpha, av, bv, beta, cv, epilogue(case, &bias));
    let (av, bv, cv) = views(case, &a, &b, &mut packed);
    gemm_packed_f32(kernel, alpha, av, bv, beta, cv, epilogue(case, &bias));
    for (i, (x, y)) in routed.iter().zip(&packed).enumerate() {
        prop_assert_eq!(x.to_bits(), y.to_bits(), "{:?}: element {}", kernel, i);
    }
    Ok(())
}

/// The f64 routed product equals the (portable) packed driver bit for bit.
fn check_f64(case: &Case, data: &Data) -> Result<(), TestCaseError> {
    let mut routed = data.c.clone();
    let mut packed = routed.clone();
    let (av, bv, cv) = views(case, &data.a, &data.b, &mut routed);
    let ep = epilogue(case, &data.bias);
    gemm_fused_with(Kernel::Portable, case.alpha, av, bv, case.beta, cv, ep);
    let (av, bv, cv) = views(case, &data.a, &data.b, &mut packed);
    gemm_packed_f64(case.alpha, av, bv, case.beta, cv, ep);
    for (i, (x, y)) in routed.iter().zip(&packed).enumerate() {
        prop_assert_eq!(x.to_bits(), y.to_bits(), "f64: element {}", i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn small_products_equal_the_packed_driver_bit_for_bit(case in case()) {
        let data = Data::new(&case);
        for kernel in Kernel::available() {
            check_f32(kernel, &case, &data)?;
        }
        check_f64(&case, &data)?;
    }
}

/// The six products of one attention head (T = 32 positions, head width 16, model width 64), in
/// the attention's views: Q, K, V and Ō are slices of wider rows, Kᵀ, Vᵀ, Pᵀ, S̄ᵀ transposed
/// views, the outputs head slices of wider rows, beta 0 and 1.
#[test]
fn attention_head_products_equal_the_packed_driver_bit_for_bit() {
    let (t, d, wide) = (32, 16, 192);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut fill =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect() };
    let (qkv, dout, p) = (fill(t * wide), fill(t * 64), fill(t * t));
    let head = |at: usize| MatRef::new(&qkv[at..], t, d, wide, 1);
    let (q, k, v) = (head(16), head(64 + 16), head(128 + 16));
    let o_bar = MatRef::new(&dout[16..], t, d, 64, 1);
    let pm = MatRef::row_major(&p, t, t);
    let scale = 0.25f32;
    // (alpha, A, B, C's row stride, beta)
    let products = [
        (scale, q, k.t(), t, 0.0),
        (1.0, pm, v, 64, 0.0),
        (1.0, pm.t(), o_bar, wide, 1.0),
        (1.0, o_bar, v.t(), t, 0.0),
        (scale, pm, k, wide, 1.0),
        (scale, pm.t(), q, wide, 0.0),
    ];
    for kernel in Kernel::available() {
        for (n, &(alpha, a, b, rs, beta)) in products.iter().enumerate() {
            let start = fill(t * rs);
            let (mut routed, mut packed) = (start.clone(), start);
            let (rows, cols) = (a.rows(), b.cols());
            let c = MatMut::new(&mut routed, rows, cols, rs, 1);
            gemm_fused_with(kernel, alpha, a, b, beta, c, Epilogue::none());
            let c = MatMut::new(&mut packed, rows, cols, rs, 1);
            gemm_packed_f32(kernel, alpha, a, b, beta, c, Epilogue::none());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&routed), bits(&packed), "{kernel:?}: product {n}");
        }
    }
}
