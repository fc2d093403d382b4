//! Sampling with a key-value cache: each new token costs one row of work, not a whole sequence.
//!
//! **Why the cache is exact.** In block `l`, position `j`'s key and value are
//! `k_j = LN₁(x_j^l)·W_k + b_k` and `v_j = LN₁(x_j^l)·W_v + b_v`, and `x_j^l` depends only on the
//! tokens at positions `≤ j` (every other step of the model is row by row, and attention at `j`
//! reads only positions `≤ j`). Appending a token at position `i > j` therefore leaves `k_j` and
//! `v_j` exactly as they were: they can be computed once and kept. A new token's row then needs
//! only its own query against the kept keys:
//!
//! ```text
//! sⱼ = q_i · k_j / √d   for j ≤ i        (per head, d = D / H)
//! p  = softmax(s)                          (the causal mask is simply not computing j > i)
//! o_i = Σ_{j ≤ i} pⱼ v_j
//! ```
//!
//! Everything else in the block (the norms, the projections, the MLP) is the same code as in
//! training ([`GptArch::block`](super::GptArch::block)) run on a tape that records no gradients, so
//! the cached logits equal a full recomputation up to the order of floating-point sums (the test
//! holds them to 1e-5 at every position).

use super::{Gpt, GptSpec};
use crate::lm::generate::Completion;
use crate::lm::sample::sample_token;
use autograd::{Tape, Var};
use dense::{Element, Scalar};
use envs::tokens::{Episode, Token, TokenTask};
use rand::Rng;

/// The keys and values of every position seen so far, for a fixed number of sequences.
pub struct KvCache<T: Element> {
    spec: GptSpec,
    store: Store<T>,
    tape: Tape<T>,
}

/// The cached rows and the scratch of one step.
struct Store<T> {
    /// `[L, S, C, D]`: block, sequence, position, the keys of all heads side by side.
    keys: Vec<T>,
    /// The values, laid out as the keys.
    values: Vec<T>,
    /// Positions filled per sequence.
    lens: Vec<usize>,
    /// Sequence and position of each row of the current step.
    rows: Vec<(usize, usize)>,
    /// The current step's attention output, `[N, D]`.
    out: Vec<T>,
    /// One row of scores.
    scores: Vec<T>,
}

impl<T: Element> KvCache<T> {
    /// An empty cache for `sequences` sequences of up to `spec.context` tokens each.
    pub fn new(spec: GptSpec, sequences: usize) -> Self {
        let n = spec.layers * sequences * spec.context * spec.width;
        let zero = <T as Scalar>::ZERO;
        Self {
            spec,
            store: Store {
                keys: vec![zero; n],
                values: vec![zero; n],
                lens: vec![0; sequences],
                rows: Vec::new(),
                out: Vec::new(),
                scores: Vec::new(),
            },
            tape: Tape::new(),
        }
    }

    /// Tokens cached so far for sequence `seq`.
    pub fn len(&self, seq: usize) -> usize {
        self.store.lens[seq]
    }

    /// Whether sequence `seq` has no cached token.
    pub fn is_empty(&self, seq: usize) -> bool {
        self.len(seq) == 0
    }

    /// Appends one token to each row's sequence (`rows[r] = (sequence, token)`; a sequence may
    /// appear several times, its tokens in order, e.g. to read a whole prompt in one step) and
    /// writes the next-token logits of every row into `logits` (`[rows, V]`, resized).
    ///
    /// # Panics
    /// If the model's sizes differ from the cache's, a sequence is out of range or would exceed
    /// the context, or a token is outside the vocabulary.
    pub fn step(&mut self, model: &Gpt<T>, rows: &[(usize, Token)], logits: &mut Vec<T>) {
        assert_eq!(
            model.spec(),
            &self.spec,
            "KvCache::step: another model's cache"
        );
        let (s, arch, params) = (&mut self.store, model.arch(), model.params());
        s.place(rows, self.spec.context);
        let tokens: Vec<Token> = rows.iter().map(|&(_, t)| t).collect();
        let positions: Vec<usize> = s.rows.iter().map(|&(_, p)| p).collect();
        self.tape.reset();
        let tape = &self.tape;
        tape.no_grad(|| {
            let param = |k: usize| tape.constant(&params[k]);
            // x₀ = E_tok[token] + E_pos[position], row by row.
            let x = param(0).embed(&tokens) + param(1).embed(&positions);
            let x = arch.blocks(&param, x, |l, qkv| s.attend(&self.spec, l, qkv));
            arch.head(&param, x).with_value(|z| {
                logits.clear();
                logits.extend_from_slice(z.data());
            });
        });
    }
}

impl<T: Element> Store<T> {
    /// Gives each row its position (the next free one of its sequence) and advances the lengths.
    fn place(&mut self, rows: &[(usize, Token)], context: usize) {
        self.rows.clear();
        for &(seq, _) in rows {
            assert!(
                seq < self.lens.len(),
                "KvCache::step: sequence {seq}, but the cache holds {}",
                self.lens.len()
            );
            let pos = self.lens[seq];
            assert!(
                pos < context,
                "KvCache::step: sequence {seq} is full (context {context})"
            );
            self.lens[seq] += 1;
            self.rows.push((seq, pos));
        }
    }

    /// Offset of (block l, sequence seq, position pos) in `keys` and `values`.
    fn at(spec: &GptSpec, seqs: usize, l: usize, seq: usize, pos: usize) -> usize {
        ((l * seqs + seq) * spec.context + pos) * spec.width
    }

    /// Block `l`'s attention for the rows of this step: keeps their keys and values, then each
    /// row's query attends to its sequence's positions up to its own (module doc formulas).
    fn attend<'t>(&mut self, spec: &GptSpec, l: usize, qkv: Var<'t, T>) -> Var<'t, T> {
        let (d, dh, seqs) = (spec.width, spec.head_width(), self.lens.len());
        let scale = <T as autograd::Float>::from_f64(1.0 / (dh as f64).sqrt());
        qkv.with_value(|v| {
            for (row, &(seq, pos)) in v.data().chunks_exact(3 * d).zip(&self.rows) {
                let at = Self::at(spec, seqs, l, seq, pos);
                self.keys[at..at + d].copy_from_slice(&row[d..2 * d]);
                self.values[at..at + d].copy_from_slice(&row[2 * d..]);
            }
            self.out.clear();
            self.out.resize(self.rows.len() * d, <T as Scalar>::ZERO);
            for (r, &(seq, pos)) in self.rows.iter().enumerate() {
                let start = Self::at(spec, seqs, l, seq, 0);
                for h in 0..spec.heads {
                    let q = &v.data()[r * 3 * d + h * dh..][..dh];
                    // sⱼ = q · k_j / √d, then p = softmax(s) over j ≤ pos.
                    self.scores.clear();
                    for j in 0..=pos {
                        let k = &self.keys[start + j * d + h * dh..][..dh];
                        let dot = q
                            .iter()
                            .zip(k)
                            .fold(<T as Scalar>::ZERO, |a, (&x, &y)| a + x * y);
                        self.scores.push(dot * scale);
                    }
                    T::softmax_row(&mut self.scores);
                    // o = Σⱼ pⱼ v_j
                    let o = &mut self.out[r * d + h * dh..][..dh];
                    for (j, &p) in self.scores.iter().enumerate() {
                        let vj = &self.values[start + j * d + h * dh..][..dh];
                        for (acc, &x) in o.iter_mut().zip(vj) {
                            *acc += p * x;
                        }
                    }
                }
            }
        });
        qkv.tape()
            .constant_from_slice(&self.out, &[self.rows.len(), d])
    }
}

/// Samples one completion per prompt at `temperature` (0: greedy) with the cache, in the
/// prompts' order: the same episodes, sampler and RNG use as [`crate::lm::generate::generate`],
/// the MLP's.
///
/// The first step reads every prompt whole; each later step feeds each running episode's last
/// token, one row per episode.
///
/// # Panics
/// If the model's vocabulary is not the task's, or a prompt plus the longest completion does not
/// fit in the context.
pub fn generate<R: Rng + ?Sized>(
    model: &Gpt<f32>,
    task: &dyn TokenTask,
    prompts: &[Vec<Token>],
    temperature: f32,
    rng: &mut R,
) -> Vec<Completion> {
    let (v, spec) = (task.vocab().len(), model.spec());
    assert_eq!(
        spec.vocab,
        v,
        "generate: the model has {} outputs but task {} has {v} tokens",
        spec.vocab,
        task.id()
    );
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    // The last sampled token is never fed back, hence the − 1.
    assert!(
        longest + task.max_completion_len() - 1 <= spec.context,
        "generate: a prompt of {longest} tokens and {} completion tokens exceed the context of {}",
        task.max_completion_len(),
        spec.context
    );
    let mut episodes: Vec<Episode> = prompts
        .iter()
        .map(|p| Episode::new(p, task.max_completion_len(), v))
        .collect();
    let mut cache = KvCache::new(*spec, prompts.len());
    // Every prompt whole: its rows in order; the logits of its last row predict the first token.
    let mut rows: Vec<(usize, Token)> = prompts
        .iter()
        .enumerate()
        .flat_map(|(e, p)| p.iter().map(move |&t| (e, t)))
        .collect();
    let mut last_rows: Vec<usize> = prompts
        .iter()
        .scan(0, |end, p| {
            *end += p.len();
            Some(*end - 1)
        })
        .collect();
    let mut active: Vec<usize> = (0..episodes.len()).collect();
    let mut logits = Vec::new();
    while !active.is_empty() {
        cache.step(model, &rows, &mut logits);
        for (&e, &r) in active.iter().zip(&last_rows) {
            let token = sample_token(&logits[r * v..(r + 1) * v], temperature, rng);
            episodes[e]
                .step(token)
                .expect("a running episode accepts any token of its vocabulary");
        }
        active.retain(|&e| !episodes[e].status().is_done());
        rows.clear();
        rows.extend(active.iter().map(|&e| {
            let c = episodes[e].completion();
            (e, c[c.len() - 1])
        }));
        last_rows.clear();
        last_rows.extend(0..active.len());
    }
    episodes.into_iter().map(Completion::from).collect()
}
