//! SIMD dense layers for small policy networks: a packed GEMM with AVX-512 / AVX2+FMA /
//! portable kernels chosen once at run time, a GEMV path for batch 1, vectorised `tanh`/`exp`,
//! the fused layer `act(x·W + b)` as one autograd node, an [`Mlp`] that owns its parameters,
//! the transformer's fused ops (causal attention, layer norm, GELU, a layer landing on the
//! residual stream), initialisers, optimisers (SGD, Adam, AdamW) with gradient clipping and a
//! learning-rate schedule, and a checksummed parameter-file format for checkpoints that resume bit
//! for bit.
//!
//! # Training an MLP: the whole loop
//!
//! ```
//! use autograd::{Tape, Tensor};
//! use dense::optim::{Adam, AdamConfig, LinearSchedule, clip_grad_norm};
//! use dense::paramfile::ParamFile;
//! use dense::{Activation, Init, Mlp};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! // 4 inputs, two hidden layers of 64 (tanh), 2 outputs (identity). Orthogonal init with gain
//! // √2 for hidden layers and a small gain for the output head, as is usual for policies.
//! let mut policy: Mlp<f32> = Mlp::new(
//!     &[4, 64, 64, 2],
//!     Activation::Tanh,
//!     Activation::Identity,
//!     Init::Orthogonal { gain: 2f64.sqrt() },
//!     Init::Orthogonal { gain: 0.01 },
//!     &mut rng,
//! );
//! let mut adam = Adam::new(AdamConfig { lr: 3e-3, ..AdamConfig::default() });
//! let schedule = LinearSchedule::new(3e-3, 0.0, 100); // anneal to 0 over 100 updates
//!
//! // Reused across steps, so the steady state allocates almost nothing.
//! let mut tape = Tape::new();
//! let mut grad_buf = policy.zeros_like_params();
//!
//! let obs = Tensor::<f32>::randn(&[32, 4], &mut rng);
//! let actions: Vec<usize> = (0..32).map(|i| i % 2).collect();
//! let advantages = Tensor::<f32>::randn(&[32], &mut rng);
//! for update in 0..3 {
//!     tape.reset();
//!     let params = policy.lend(&tape);                    // W₀, b₀, … moved onto the tape, no copy
//!     let logits = params.forward(tape.constant(&obs));   // one fused node per layer
//!     let logp = logits.log_softmax(1).gather(1, &actions);
//!     let loss = -(logp * tape.constant(&advantages)).mean();
//!     params.backward_to(loss, &mut grad_buf);            // dL/dW₀, dL/db₀, … swapped out
//!     drop(params);                                       // the parameters go back to `policy`
//!     let norm = clip_grad_norm(&mut grad_buf, 0.5);      // global-norm clipping
//!     assert!(norm.is_finite());
//!     adam.set_lr(schedule.at(update));
//!     adam.step(policy.params_mut(), &grad_buf);           // in place, no allocation
//! }
//!
//! // Acting: no tape, batch 1 runs on the GEMV path; same bits as the tape's forward.
//! let mut logits = [0.0f32; 2];
//! policy.infer(&[0.1, -0.2, 0.03, 0.4], &mut logits);
//!
//! // Checkpoint: parameters and optimiser state under name prefixes, written atomically.
//! let mut ckpt = ParamFile::new();
//! policy.save_to(&mut ckpt, "policy.");
//! adam.save_to(&mut ckpt, "policy_adam.");
//! let bytes = ckpt.to_bytes(); // or ckpt.save("run/ckpt.bin")?
//! let restored = ParamFile::from_bytes(&bytes).unwrap();
//! let mut again = policy.clone();
//! again.load_from(&restored, "policy.").unwrap();
//! let mut adam2 = Adam::new(AdamConfig::default());
//! adam2.load_from(&restored, "policy_adam.").unwrap(); // resumes bit for bit
//! assert_eq!(again, policy);
//! ```
//!
//! `Mlp` is generic over `f32` (default) and `f64`; the optimisers work on `f32` buffers (any
//! [`optim::BufMut`]: `Tensor<f32>`, `Vec<f32>`, `&mut [f32]`). A value network is a second
//! `Mlp` with its own `Adam`; to sum several losses over one network, run `params.forward` on
//! each batch and add the losses before `backward`. A single layer without an `Mlp` is
//! [`linear()`]`(x, w, b, activation)` on tape vars.
//!
//! # Why packing and register blocking make a GEMM fast
//!
//! `C = A·B` with `m = n = k = 512` does 268 M multiply-adds but touches only 3 MB: each number
//! is reused hundreds of times. A naive triple loop reloads operands from memory for every
//! multiply-add and reaches ~1-2 GFLOP/s. One core of this machine can do 2 FMA instructions per
//! cycle, each on 16 floats (AVX-512): 64 flops/cycle, ~170 GFLOP/s. Getting there is a matter
//! of keeping the FMA units fed from the closest storage:
//!
//! ```text
//!              registers (32 × 64 B)    L1 (48 KB)        L2 (2 MB)         L3 / DRAM
//!             ┌──────────────────┐   ┌─────────────┐   ┌─────────────┐   ┌──────────────┐
//! holds:      │ C tile  12 × 32  │◄──│ B panel     │◄──│ A block     │◄──│ B block      │
//!             │ (24 zmm accum.)  │   │ KC × 32     │   │ MC × KC     │   │ KC × NC      │
//!             └──────────────────┘   └─────────────┘   └─────────────┘   └──────────────┘
//! reused:      KC times per tile      MC/12 times       NC/32 times       m/MC times
//!
//! micro-kernel, one step p of KC:     b0 b1 = B[p, 0..32]         (2 vector loads)
//!                                     for i in 0..12:  a = bcast A[i, p]
//!                                         acc[i][0] += a·b0 ; acc[i][1] += a·b1   (24 FMAs)
//! ```
//!
//! - **Register blocking.** The 12×32 tile of C stays in 24 vector registers for the whole `KC`
//!   loop: per step, 2 loads of B and 12 broadcasts of A feed 24 FMAs. An FMA takes ~4 cycles and
//!   two can start per cycle, so ≥ 8 independent accumulators are needed; 24 leave headroom.
//!   (AVX2 has 16 registers: its tile is 6×16 in 12 of them.)
//! - **Packing.** A block of A is copied into 12-row panels stored column by column, and B into
//!   32-column panels stored row by row (`gemm/pack.rs`), so the kernel streams both with unit
//!   stride whatever the original strides (transposed views included), and ragged edges are
//!   zero-padded instead of special-cased. When a block is reused only a few times (a batch of
//!   64 rows, a 64-wide layer) packing costs more than it saves, and the kernel reads A or B in
//!   place instead. A transposed A with short columns (the `xᵀ` of a weight gradient `xᵀ·z̄`)
//!   is read in place too: the 12 values one step of the kernel needs are already side by side
//!   in memory, exactly as packing would lay them out.
//! - **Cache blocking.** `KC×32` of B fits L1, `MC×KC` of A fits L2, `KC×NC` of B fits L3; the
//!   loop nest in `gemm/driver.rs` visits them so each level is reused before it is evicted.
//! - **Fused epilogue.** Bias and activation are applied to each cache block of C (MC×NC) right
//!   after its last update, while it is still in cache, instead of in separate passes over C.
//! - **Small shapes.** Four rows or fewer (batch-1 acting) or four columns or fewer (policy and
//!   value heads) run as GEMVs (`gemv/`), which read the matrix once in place.
//!
//! [`Kernel::selected`] detects the instruction set once and caches it; every entry point has a
//! `*_with(kernel, …)` twin so tests force each path. Intrinsics live in `#[target_feature]`
//! functions; each `unsafe` block states why it is sound.
//!
//! **Determinism.** Every element is summed in a fixed order, so the same inputs give the same
//! bits on every run on one machine, whatever the thread count ([`threads`]: large products are
//! split over blocks of output rows, never over the reduction). Different kernel paths (an
//! AVX2-only CPU against an AVX-512 one) sum in different orders and may differ in the last bits;
//! the dev machines and CI both select AVX-512.
//!
//! # How the fast paths are proven equal to the reference
//!
//! - `gemm_reference` is the textbook triple loop. `tests/gemm.rs` runs every kernel path against
//!   it (computed in `f64`) with proptest: m, n, k in 1..300, row-major, column-major
//!   (transposed), padded and doubly strided views of A, B and C, random alpha, beta (NaN in C
//!   when beta = 0, which must not be read), bias and every activation, and checks that memory
//!   outside C's view is untouched.
//! - `vmath`'s `exp`/`tanh` are swept over the whole `f32` range on every path against `f64`
//!   (`tests/vmath.rs`), with documented bounds [`vmath::EXP_MAX_REL_ERROR`] and
//!   [`vmath::TANH_MAX_REL_ERROR`], plus ±inf, NaN, ±0 and every tail length.
//! - The fused [`linear()`] op is checked against the same layer composed from autograd's own
//!   reference ops (`x.matmul(w) + b`, `.tanh()`, `.relu()`) for values and all three
//!   gradients, in `f64` (to 1e-12) and `f32`, for random shapes; its `f64` version and a whole
//!   `Mlp` pass autograd's finite-difference `gradcheck` (`tests/layers.rs`).
//! - The fused layer norm has the bits of autograd's `layer_norm` (value and every gradient) on
//!   every path, and GELU and the layer norm the same bits on 1, 2 and 3 threads
//!   (`tests/layer_norm.rs`, `tests/threads.rs`); the attention and GELU ops are held to
//!   autograd's compositions, and a whole GPT block passes `gradcheck` (`tests/gpt_block.rs`).
//! - Optimiser steps are compared with values worked by hand from PyTorch's update rules; a
//!   training run interrupted by a checkpoint resumes to the same bits.
#![warn(missing_docs)]

pub mod activation;
pub mod aligned_alloc;
pub mod attention;
mod element;
pub mod gelu;
pub mod gemm;
mod gemv;
pub mod init;
pub mod kernel;
pub mod layer_norm;
pub mod linear;
pub mod mlp;
pub mod optim;
pub mod paramfile;
pub mod residual;
pub mod scalar;
pub mod threads;
pub mod view;
pub mod vmath;

pub use activation::Activation;
pub use aligned_alloc::CacheLineAlloc;
pub use attention::{
    CausalSelfAttention, attention_reference, causal_self_attention, causal_self_attention_rows,
};
pub use element::Element;
pub use gemm::{Epilogue, gemm, gemm_fused, gemm_fused_with, gemm_reference, gemm_with};
pub use init::Init;
pub use kernel::Kernel;
pub use linear::{LinearOp, linear};
pub use mlp::{LentMlp, Mlp, MlpVars};
pub use residual::{ResidualLinearOp, linear_residual};
pub use scalar::Scalar;
pub use view::{MatMut, MatRef};
