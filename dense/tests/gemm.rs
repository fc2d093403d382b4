//! Every GEMM path equals the scalar reference: random shapes (1..300, not multiples of the
//! tiles), strided and transposed views, alpha, beta (with NaN in C when beta = 0, which must not
//! be read), bias and activation, for each kernel this CPU has.

use dense::{Activation, Epilogue, Kernel, MatMut, MatRef, gemm_fused_with, gemm_reference};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a matrix is laid out in memory.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    ColMajor,
    /// Row-major with `pad` unused values after each row.
    PaddedRows(usize),
    /// Column-major with `pad` unused values after each column.
    PaddedCols(usize),
    /// Both strides > 1 (e.g. every other element of a bigger matrix).
    Strided(usize),
}

impl Layout {
    fn strides(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Layout::RowMajor => (cols, 1),
            Layout::ColMajor => (1, rows),
            Layout::PaddedRows(p) => (cols + p, 1),
            Layout::PaddedCols(p) => (1, rows + p),
            Layout::Strided(s) => (cols * s + 1, s),
        }
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        3 => Just(Layout::RowMajor),
        2 => Just(Layout::ColMajor),
        1 => (1usize..5).prop_map(Layout::PaddedRows),
        1 => (1usize..5).prop_map(Layout::PaddedCols),
        1 => (2usize..4).prop_map(Layout::Strided),
    ]
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Identity),
        Just(Activation::Tanh),
        Just(Activation::Relu)
    ]
}

#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f32,
    beta: f32,
    bias: bool,
    act: Activation,
    seed: u64,
}

fn dim() -> impl Strategy<Value = usize> {
    // Mostly small and ragged, sometimes large: the whole 1..300 range is covered.
    prop_oneof![3 => 1usize..40, 2 => 1usize..300]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (dim(), dim(), dim()),
        (layout(), layout(), layout()),
        prop_oneof![Just(1.0f32), Just(-0.5), -2.0f32..2.0],
        prop_oneof![Just(0.0f32), Just(1.0), -1.5f32..1.5],
        any::<bool>(),
        activation(),
        any::<u64>(),
    )
        .prop_map(
            |((m, n, k), (la, lb, lc), alpha, beta, bias, act, seed)| Case {
                m,
                n,
                k,
                la,
                lb,
                lc,
                alpha,
                beta,
                bias,
                act,
                seed,
            },
        )
}

/// Storage for a `rows × cols` matrix in `layout`, filled with uniform values in [-1, 1].
fn storage(
    rng: &mut ChaCha8Rng,
    rows: usize,
    cols: usize,
    layout: Layout,
) -> (Vec<f32>, usize, usize) {
    let (rs, cs) = layout.strides(rows, cols);
    let len = (rows - 1) * rs + (cols - 1) * cs + 1;
    let data = (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    (data, rs, cs)
}

fn check(kernel: Kernel, c: &Case) {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let (ad, ars, acs) = storage(&mut rng, c.m, c.k, c.la);
    let (bd, brs, bcs) = storage(&mut rng, c.k, c.n, c.lb);
    let (mut cd, crs, ccs) = storage(&mut rng, c.m, c.n, c.lc);
    if c.beta == 0.0 {
        // beta = 0 means C is write-only: NaN there must not leak into the result.
        cd.iter_mut().for_each(|x| *x = f32::NAN);
    }
    let bias: Vec<f32> = (0..c.n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let bias_opt = c.bias.then_some(&bias[..]);

    // Reference in f64 on the same views.
    let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (ad64, bd64, bias64) = (to64(&ad), to64(&bd), to64(&bias));
    let mut cd64 = to64(&cd);
    gemm_reference(
        c.alpha as f64,
        MatRef::new(&ad64, c.m, c.k, ars, acs),
        MatRef::new(&bd64, c.k, c.n, brs, bcs),
        c.beta as f64,
        MatMut::new(&mut cd64, c.m, c.n, crs, ccs),
        Epilogue::new(c.bias.then_some(&bias64[..]), c.act),
    );
    let c_before = cd.clone();
    gemm_fused_with(
        kernel,
        c.alpha,
        MatRef::new(&ad, c.m, c.k, ars, acs),
        MatRef::new(&bd, c.k, c.n, brs, bcs),
        c.beta,
        MatMut::new(&mut cd, c.m, c.n, crs, ccs),
        Epilogue::new(bias_opt, c.act),
    );
    let a = MatRef::new(&ad, c.m, c.k, ars, acs);
    let b = MatRef::new(&bd, c.k, c.n, brs, bcs);
    for i in 0..c.m {
        for j in 0..c.n {
            let idx = i * crs + j * ccs;
            // Error bound: a few ulps of the sum of |terms| (rounding grows with k).
            let mut scale = 0.0f64;
            for p in 0..c.k {
                scale += (a.get(i, p) as f64 * b.get(p, j) as f64).abs();
            }
            scale = scale * c.alpha.abs() as f64 + 1.0;
            if c.beta != 0.0 {
                scale += (c.beta * c_before[idx]).abs() as f64;
            }
            let tol = 2e-7 * (c.k as f64 + 8.0) * scale;
            let (got, want) = (cd[idx] as f64, cd64[idx]);
            assert!(
                (got - want).abs() <= tol,
                "{kernel:?} {c:?}: C[{i},{j}] = {got}, reference {want} (tolerance {tol})"
            );
        }
    }
    // Elements of the storage outside the view are untouched.
    let inside: std::collections::HashSet<usize> = (0..c.m)
        .flat_map(|i| (0..c.n).map(move |j| i * crs + j * ccs))
        .collect();
    for (idx, (&now, &before)) in cd.iter().zip(&c_before).enumerate() {
        if !inside.contains(&idx) {
            assert!(
                now.to_bits() == before.to_bits(),
                "{kernel:?} {c:?}: storage element {idx} outside the view of C changed"
            );
        }
    }
}

fn run_for(kernel: Kernel) -> Result<(), TestCaseError> {
    if !kernel.is_available() {
        eprintln!("skipping {kernel:?}: not supported by this CPU");
        return Ok(());
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(40));
    runner
        .run(&case(), |c| {
            check(kernel, &c);
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(format!("{e}")))
}

#[test]
fn avx512_equals_reference() {
    run_for(Kernel::Avx512).unwrap();
}

#[test]
fn avx2fma_equals_reference() {
    run_for(Kernel::Avx2Fma).unwrap();
}

#[test]
fn portable_equals_reference() {
    run_for(Kernel::Portable).unwrap();
}

/// Shapes around every tile size of every path, one-row and one-column problems (the GEMV
/// routes), both storage orders of B.
#[test]
fn tile_edges_and_gemv_routes() {
    let dims = [
        1usize, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33, 64, 65,
    ];
    let mut seed = 0;
    for kernel in Kernel::available() {
        for &m in &[1usize, 5, 6, 7, 12, 13, 25] {
            for &n in &dims {
                for lb in [Layout::RowMajor, Layout::ColMajor] {
                    seed += 1;
                    let k = dims[seed as usize % dims.len()] + 1;
                    let c = Case {
                        m,
                        n,
                        k,
                        la: Layout::RowMajor,
                        lb,
                        lc: Layout::RowMajor,
                        alpha: 1.0,
                        beta: if seed % 2 == 0 { 0.0 } else { 0.5 },
                        bias: seed % 3 == 0,
                        act: [Activation::Identity, Activation::Tanh, Activation::Relu]
                            [seed as usize % 3],
                        seed,
                    };
                    check(kernel, &c);
                }
            }
        }
    }
}

#[test]
fn k_zero_and_alpha_zero_scale_c() {
    for kernel in Kernel::available() {
        let a: [f32; 0] = [];
        let mut c = [1.0f32, 2.0, 3.0, 4.0];
        gemm_fused_with(
            kernel,
            1.0,
            MatRef::row_major(&a, 2, 0),
            MatRef::row_major(&a, 0, 2),
            0.5,
            MatMut::row_major(&mut c, 2, 2),
            Epilogue::new(Some(&[1.0, -10.0]), Activation::Relu),
        );
        assert_eq!(c, [1.5, 0.0, 2.5, 0.0]);
        let a = [f32::NAN; 4];
        let mut c = [f32::NAN; 4];
        gemm_fused_with(
            kernel,
            0.0,
            MatRef::row_major(&a, 2, 2),
            MatRef::row_major(&a, 2, 2),
            0.0,
            MatMut::row_major(&mut c, 2, 2),
            Epilogue::none(),
        );
        assert_eq!(
            c, [0.0; 4],
            "alpha = beta = 0 must give zeros without reading A, B or C"
        );
    }
}

#[test]
#[should_panic(expected = "A is 2x3, B is 2x2")]
fn shape_mismatch_names_the_shapes() {
    let a = [0.0f32; 6];
    let b = [0.0f32; 4];
    let mut c = [0.0f32; 4];
    dense::gemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 2, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// f64 runs the portable packed kernel; it must match the reference to ~1e-13.
    #[test]
    fn f64_equals_reference(m in 1usize..120, n in 1usize..120, k in 1usize..120,
                            ta in any::<bool>(), tb in any::<bool>(), beta in -1.0f64..1.0, seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a: Vec<f64> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f64> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let c0: Vec<f64> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let av = if ta { MatRef::row_major(&a, k, m).t() } else { MatRef::row_major(&a, m, k) };
        let bv = if tb { MatRef::row_major(&b, n, k).t() } else { MatRef::row_major(&b, k, n) };
        let mut want = c0.clone();
        let mut got = c0.clone();
        gemm_reference(0.7, av, bv, beta, MatMut::row_major(&mut want, m, n), Epilogue::none());
        dense::gemm(0.7, av, bv, beta, MatMut::row_major(&mut got, m, n));
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= 1e-13 * (k as f64 + 1.0), "{g} vs {w}");
        }
    }
}

/// An outer product (`k = 1`, the batch-1 weight gradient) takes its own one-multiply route; it
/// must give the bits the packed kernels and GEMVs give for the same product written with a zero
/// second column in A (and row in B), for beta 0 and 1, with and without an epilogue.
#[test]
fn outer_products_have_the_bits_of_the_general_route() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for kernel in Kernel::available() {
        for &(m, n) in &[
            (1, 1),
            (3, 2),
            (4, 64),
            (5, 3),
            (9, 4),
            (64, 64),
            (70, 130),
            (200, 7),
        ] {
            let a: Vec<f32> = (0..m).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
            let b: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
            let bias: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
            // The same product with k = 2: A gets a zero column, B a zero row.
            let a2: Vec<f32> = a.iter().flat_map(|&x| [x, 0.0]).collect();
            let b2: Vec<f32> = b
                .iter()
                .copied()
                .chain(std::iter::repeat_n(0.0, n))
                .collect();
            for beta in [0.0f32, 1.0] {
                for act in [Activation::Identity, Activation::Tanh] {
                    let epi = Epilogue::new(Some(&bias), act);
                    let (mut c1, mut c2) = (c0.clone(), c0.clone());
                    gemm_fused_with(
                        kernel,
                        0.7,
                        MatRef::row_major(&a, m, 1),
                        MatRef::row_major(&b, 1, n),
                        beta,
                        MatMut::row_major(&mut c1, m, n),
                        epi,
                    );
                    gemm_fused_with(
                        kernel,
                        0.7,
                        MatRef::row_major(&a2, m, 2),
                        MatRef::row_major(&b2, 2, n),
                        beta,
                        MatMut::row_major(&mut c2, m, n),
                        epi,
                    );
                    let bits = |c: &[f32]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert!(
                        bits(&c1) == bits(&c2),
                        "{kernel:?} {m}x1·1x{n}, beta {beta}, {act:?}: outer product differs"
                    );
                }
            }
        }
    }
}

/// Products with at most four rows run as one GEMV over all the rows at once (one pass over B),
/// and products with at most four columns as one GEMV of the transposed problem; each row of C
/// must get the bits of the one-row product of its row of A alone, for widths around every
/// vector block and tail, with A read in place through a transposed (strided) view.
#[test]
fn several_rows_at_once_have_the_bits_of_one_row_at_a_time() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let bits = |c: &[f32]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for kernel in Kernel::available() {
        for rows in 2..=4 {
            for n in [1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 130] {
                for k in [1, 2, 5, 64] {
                    // A stored transposed (k × rows), so each row of A is strided.
                    let at: Vec<f32> = (0..k * rows).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
                    let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
                    let bias: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                    let c0: Vec<f32> = (0..rows * n).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                    let a = MatRef::row_major(&at, k, rows).t();
                    let bv = MatRef::row_major(&b, k, n);
                    let epi = Epilogue::new(Some(&bias), Activation::Tanh);
                    let mut together = c0.clone();
                    let c = MatMut::row_major(&mut together, rows, n);
                    gemm_fused_with(kernel, 0.7, a, bv, 0.5, c, epi);
                    let mut alone = c0.clone();
                    for (i, row) in alone.chunks_exact_mut(n).enumerate() {
                        let c = MatMut::row_major(row, 1, n);
                        gemm_fused_with(kernel, 0.7, a.sub(i, 0, 1, k), bv, 0.5, c, epi);
                    }
                    assert!(
                        bits(&together) == bits(&alone),
                        "{kernel:?} {rows}x{k}·{k}x{n}: rows together differ from rows alone"
                    );
                    // The transposed problem: C (n × rows) = B' · A' with `rows` ≤ 4 columns.
                    let mut cols_together = vec![0.0f32; n * rows];
                    let c = MatMut::row_major(&mut cols_together, n, rows);
                    gemm_fused_with(kernel, 0.7, bv.t(), a.t(), 0.0, c, Epilogue::none());
                    let t_bits: Vec<u32> = (0..rows * n)
                        .map(|e| cols_together[(e % n) * rows + e / n].to_bits())
                        .collect();
                    let mut plain = vec![0.0f32; rows * n];
                    let c = MatMut::row_major(&mut plain, rows, n);
                    gemm_fused_with(kernel, 0.7, a, bv, 0.0, c, Epilogue::none());
                    if n > 4 {
                        assert!(
                            t_bits == bits(&plain),
                            "{kernel:?} ({rows}x{k}·{k}x{n})ᵀ: the column route differs"
                        );
                    }
                }
            }
        }
    }
}

/// The bits of `C = 0.75·A·B + beta·C0`, then `act(C + bias)`, through the packed driver on
/// `kernel` (the two tests below compare the same product with its operands laid out otherwise).
fn packed_bits(
    kernel: Kernel,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    beta: f32,
    c0: &[f32],
    bias: &[f32],
    act: Activation,
) -> Vec<u32> {
    let mut c = c0.to_vec();
    dense::gemm::gemm_packed_f32(
        kernel,
        0.75,
        a,
        b,
        beta,
        MatMut::row_major(&mut c, a.rows(), b.cols()),
        Epilogue::new(Some(bias), act),
    );
    c.iter().map(|x| x.to_bits()).collect()
}

/// The packed driver reads a column-major A (a transposed matrix, as in a weight gradient
/// `xᵀ·z̄`) in place; that must give the bits of the same A stored row-major (which the driver
/// reads in place or packs, depending on n), on every path, across the tile edges (MR), the
/// row blocks (MC up to 240), the depth blocks (KC = 256), both sides of the row-major in-place
/// column limit (256 columns) and of the column-major stride limit (256), with beta 0 and 1 and a
/// fused epilogue.
#[test]
fn column_major_a_in_place_has_the_bits_of_a_row_major_copy() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for kernel in Kernel::available() {
        for &(m, k, n) in &[
            (5, 3, 17),
            (13, 7, 33),
            (12, 256, 32),
            (25, 300, 160),
            (250, 64, 64),
            (7, 513, 129),
            (300, 20, 40),
            (25, 40, 256),
            (25, 40, 257),
            (13, 300, 290),
        ] {
            let at: Vec<f32> = (0..k * m).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let bias: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            // A = atᵀ, once as a view of `at` (column-major) and once copied row-major.
            let a_copy: Vec<f32> = (0..m * k).map(|x| at[(x % k) * m + x / k]).collect();
            for (beta, act) in [(0.0, Activation::Identity), (1.0, Activation::Tanh)] {
                let run = |a| {
                    packed_bits(
                        kernel,
                        a,
                        MatRef::row_major(&b, k, n),
                        beta,
                        &c0,
                        &bias,
                        act,
                    )
                };
                assert_eq!(
                    run(MatRef::row_major(&at, k, m).t()),
                    run(MatRef::row_major(&a_copy, m, k)),
                    "{kernel:?} {m}x{k}·{k}x{n}, beta {beta}"
                );
            }
        }
    }
}

/// The packed driver reads B in place (no copy) when C has few micro-panels of rows, more of
/// them when B's rows are at most 256 elements apart; otherwise it packs B. Either way the bits
/// must be the same: the same B stored with its rows side by side (read in place up to 40
/// panels), with rows 300 apart (in place up to 8 panels) and column-major (always packed), on
/// every path, on both sides of both panel limits (MR = 12, 6 and 4), across the depth block
/// (KC = 256) and a ragged last column strip, with beta 0 and 1 and a fused epilogue.
#[test]
fn b_in_place_has_the_bits_of_b_packed() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for kernel in Kernel::available() {
        let mr = match kernel {
            Kernel::Avx512 => 12,
            Kernel::Avx2Fma => 6,
            Kernel::Portable => 4,
        };
        for m in [8 * mr, 8 * mr + 1, 40 * mr, 40 * mr + 1] {
            for (k, n) in [(300, 40), (64, 64)] {
                let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let bias: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
                let padded: Vec<f32> = (0..k * 300)
                    .map(|x| {
                        if x % 300 < n {
                            b[x / 300 * n + x % 300]
                        } else {
                            f32::NAN
                        }
                    })
                    .collect();
                let col_major: Vec<f32> = (0..n * k).map(|x| b[(x % k) * n + x / k]).collect();
                for (beta, act) in [(0.0, Activation::Identity), (1.0, Activation::Tanh)] {
                    let run = |b| {
                        packed_bits(
                            kernel,
                            MatRef::row_major(&a, m, k),
                            b,
                            beta,
                            &c0,
                            &bias,
                            act,
                        )
                    };
                    let contiguous = run(MatRef::row_major(&b, k, n));
                    let shape = format!("{kernel:?} {m}x{k}·{k}x{n}, beta {beta}");
                    assert_eq!(
                        contiguous,
                        run(MatRef::new(&padded, k, n, 300, 1)),
                        "{shape}: rows 300 apart"
                    );
                    assert_eq!(
                        contiguous,
                        run(MatRef::col_major(&col_major, k, n)),
                        "{shape}: column-major"
                    );
                }
            }
        }
    }
}
