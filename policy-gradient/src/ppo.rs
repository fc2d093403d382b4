//! PPO's clipped surrogate: what changes when one batch of samples serves several gradient steps.
//!
//! REINFORCE takes one step per batch, so the policy that sampled the batch and the policy being
//! differentiated are the same. To take more steps on the same samples, the loss must correct
//! for the samples now coming from an *old* policy `π_old`. Importance sampling does that with the
//! probability ratio
//!
//! ```text
//! r_i(θ) = π_θ(a_i|s_i) / π_old(a_i|s_i) = exp(log π_θ(a_i|s_i) − log π_old(a_i|s_i))
//! ```
//!
//! and `E_old[r_i A_i]` has the policy gradient as its gradient at θ = θ_old. Far from θ_old the
//! ratio's estimate is unreliable, so PPO (Schulman et al. 2017) takes the pessimistic one of the
//! plain and the clipped term, per sample:
//!
//! ```text
//! L^CLIP_i = min( r_i A_i,  clip(r_i, 1 − ε, 1 + ε) A_i )
//! ```
//!
//! Its gradient, case by case ([`clipped_objective`]'s tests work each by hand):
//!
//! | advantage | ratio | smaller term | gradient |
//! |---|---|---|---|
//! | `A > 0` | `r ≤ 1 + ε` | `r A` | `A r ∇log π` |
//! | `A > 0` | `r > 1 + ε` | `(1 + ε) A`, a constant | 0: the action is already made likely enough |
//! | `A < 0` | `r ≥ 1 − ε` | `r A` | `A r ∇log π` |
//! | `A < 0` | `r < 1 − ε` | `(1 − ε) A`, a constant | 0: the action is already made unlikely enough |
//!
//! At the start of an update `π_θ = π_old`, so `r = 1` exactly, and the gradient is
//! `A ∇log π`: the first minibatch step of the first epoch *is* the REINFORCE step. With one epoch
//! and one full-batch minibatch PPO reduces to the vanilla update; a trainer test checks it bit
//! for bit.
//!
//! Two diagnostics come from the ratios ([`RatioStats`]): the fraction of samples whose ratio left
//! `[1 − ε, 1 + ε]` (clip fraction), and `KL(π_old ‖ π_θ)` estimated as the mean of
//! `(r − 1) − log r` (never negative, unbiased, low variance), which an update watches to stop
//! early when the policy has moved far enough (`target_kl`).
//!
//! A value function trained on the same batch several times can be clipped the same way
//! ([`clipped_value_loss`]).
//!
//! [`update`] is the whole scheme for the control trainer: `epochs` passes over the batch in
//! shuffled minibatches, a clipped policy step and a (optionally clipped) value step per
//! minibatch, stopping early once the policy has moved more than the KL target.

use crate::policy::{Actions, Policy};
use crate::run::optimizer::NetOptimizer;
use crate::run::update::{Stepper, clip_grads, step};
use autograd::{Float, Tape, Tensor, Var};
use dense::Mlp;
use rand::Rng;
use rand::seq::SliceRandom;

/// The per-sample clipped objective `L^CLIP_i = min(r_i A_i, clip(r_i, 1 − ε, 1 + ε) A_i)`, a
/// `[B]` vector (with `clip_eps = None`, the unclipped `r_i A_i`). The caller reduces it: control
/// takes `−mean`, a language model `−Σ_t w_t L_t` with its own averaging weights.
///
/// `logp` is `log π_θ(a_i|s_i)` on the tape (`[B]`); `old_logp` and `advantages` are constants.
///
/// At ties (`r` inside the clip range, where both terms are equal) the gradient flows through
/// `r A`, which is why the reduction to REINFORCE at `r = 1` is exact.
///
/// Panics if the lengths differ or `clip_eps` is not in `(0, 1)`.
pub fn clipped_objective<'t, T: Float>(
    logp: Var<'t, T>,
    old_logp: &[T],
    advantages: &[T],
    clip_eps: Option<T>,
) -> Var<'t, T> {
    let rows = logp.numel();
    assert!(
        old_logp.len() == rows && advantages.len() == rows,
        "clipped_objective: {rows} log-probs, {} old log-probs, {} advantages",
        old_logp.len(),
        advantages.len()
    );
    let tape = logp.tape();
    let old = tape.constant_from_slice(old_logp, &[rows]);
    let adv = tape.constant_from_slice(advantages, &[rows]);
    // r_i = exp(log π_θ − log π_old)
    let ratio = (logp - old).exp();
    let plain = ratio * adv;
    match clip_eps {
        None => plain,
        Some(eps) => {
            assert!(
                eps > T::zero() && eps < T::one(),
                "clipped_objective: clip range {eps} outside (0, 1)"
            );
            // min(r A, clip(r, 1 − ε, 1 + ε) A); a tie sends the gradient to r A.
            let clipped = ratio.clamp(T::one() - eps, T::one() + eps) * adv;
            plain.minimum(clipped)
        }
    }
}

/// The value loss of PPO with value clipping, `(1/B) Σ_i max((V_i − Ŷ_i)², (V_i^clip − Ŷ_i)²)`
/// where `V_i^clip = V_old,i + clip(V_i − V_old,i, −ε, ε)`: the new prediction may not move more
/// than ε from the one made when the batch was collected without paying for it. With
/// `clip_eps = None`, the plain `(1/B) Σ_i (V_i − Ŷ_i)²`.
///
/// `values` is `V_φ(s_i)` on the tape, `[B, 1]` or `[B]`; `old_values` and `targets` are
/// constants of `B` elements. Panics if the lengths differ.
pub fn clipped_value_loss<'t, T: Float>(
    values: Var<'t, T>,
    old_values: &[T],
    targets: &[T],
    clip_eps: Option<T>,
) -> Var<'t, T> {
    let rows = values.numel();
    assert!(
        old_values.len() == rows && targets.len() == rows,
        "clipped_value_loss: {rows} values, {} old values, {} targets",
        old_values.len(),
        targets.len()
    );
    let tape = values.tape();
    let v = values.reshape(&[rows]);
    let y = tape.constant_from_slice(targets, &[rows]);
    let plain = (v - y).square();
    match clip_eps {
        None => plain.mean(),
        Some(eps) => {
            let old = tape.constant_from_slice(old_values, &[rows]);
            let v_clip = old + (v - old).clamp(-eps, eps);
            plain.maximum((v_clip - y).square()).mean()
        }
    }
}

/// What the ratios of one minibatch say about how far the policy has moved.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RatioStats {
    /// Fraction of samples with `|r − 1| > ε` (0 without clipping).
    pub clip_fraction: f64,
    /// `KL(π_old ‖ π_θ) ≈ (1/B) Σ_i ((r_i − 1) − log r_i)`.
    pub approx_kl: f64,
}

impl RatioStats {
    /// The statistics of `r_i = exp(logp_i − old_logp_i)`. Panics if the lengths differ; an
    /// empty batch gives zeros.
    pub fn of(logp: &[f32], old_logp: &[f32], clip_eps: Option<f32>) -> Self {
        assert_eq!(
            logp.len(),
            old_logp.len(),
            "RatioStats::of: {} log-probs, {} old log-probs",
            logp.len(),
            old_logp.len()
        );
        if logp.is_empty() {
            return Self::default();
        }
        let (mut clipped, mut kl) = (0usize, 0.0f64);
        for (&new, &old) in logp.iter().zip(old_logp) {
            let log_r = new as f64 - old as f64;
            let r = log_r.exp();
            // (r − 1) − log r ≥ 0, with equality only at r = 1.
            kl += (r - 1.0) - log_r;
            if clip_eps.is_some_and(|eps| (r - 1.0).abs() > eps as f64) {
                clipped += 1;
            }
        }
        let n = logp.len() as f64;
        RatioStats {
            clip_fraction: clipped as f64 / n,
            approx_kl: kl / n,
        }
    }
}

/// The settings of a PPO update (the config's keys, already validated).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PpoSettings {
    /// Passes over the batch (`update_epochs`).
    pub epochs: usize,
    /// Rows per minibatch (`minibatch_size`); the last minibatch of a pass may be smaller.
    pub minibatch_size: usize,
    /// ε of the policy ratio's clip (`clip_range`); `None` leaves the ratio unclipped.
    pub clip_range: Option<f32>,
    /// ε of the value clip (`clip_range_value`); `None` trains V on the plain squared error.
    pub value_clip: Option<f32>,
    /// Stop the update once a minibatch's approximate KL exceeds `1.5 · target_kl`.
    pub target_kl: Option<f64>,
    /// Weight β of the entropy bonus.
    pub entropy_coef: f32,
    /// Global gradient-norm clip (0: none).
    pub max_grad_norm: f32,
}

/// One batch as the update sees it: every row's observation, action, advantage and value
/// target, and the value estimates made when it was collected.
#[derive(Clone, Copy, Debug)]
pub struct PpoBatch<'a> {
    /// `[rows, obs_dim]`, row-major.
    pub obs: &'a [f32],
    /// Observation width.
    pub obs_dim: usize,
    /// The actions taken.
    pub actions: &'a Actions,
    /// `A_i`, one per row (already normalised if the run normalises).
    pub advantages: &'a [f32],
    /// `Ŷ_i`, the value targets.
    pub targets: &'a [f32],
    /// `V_old(s_i)`, the values when the batch was collected (needed for value clipping).
    pub old_values: Option<&'a [f32]>,
}

/// What an update reports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PpoStats {
    /// Mean policy loss `−mean L^CLIP` over the minibatch steps taken.
    pub policy_loss: f64,
    /// Mean value loss over the minibatch steps taken (NaN without a value function).
    pub value_loss: f64,
    /// Mean entropy over the minibatch steps taken.
    pub entropy: f64,
    /// Mean clip fraction over the minibatch steps taken.
    pub clip_fraction: f64,
    /// Largest global norm of a policy gradient before clipping.
    pub grad_norm: f64,
    /// Minibatch steps taken.
    pub steps: usize,
    /// True when the KL target stopped the update before its last pass.
    pub stopped_early: bool,
}

/// A non-finite quantity met during an update; nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFinite(pub &'static str);

/// The networks and optimisers an update trains. On success they hold the updated state; on
/// [`NonFinite`] they are left as they were.
pub struct PpoModels<'a> {
    /// The policy and its optimiser.
    pub policy: (&'a mut Policy, &'a mut NetOptimizer),
    /// The value network and its optimiser, when the run has one.
    pub value: Option<(&'a mut Mlp, &'a mut NetOptimizer)>,
}

/// Buffers an update reuses from one epoch to the next.
#[derive(Debug, Default)]
pub struct PpoScratch {
    order: Vec<usize>,
    old_logp: Vec<f32>,
    obs: Vec<f32>,
    actions: Option<Actions>,
    mb_old_logp: Vec<f32>,
    mb_adv: Vec<f32>,
    mb_targets: Vec<f32>,
    mb_old_values: Vec<f32>,
    /// Gradient buffers the tape swaps each step's gradients into (`Policy::lend`).
    grads: Vec<Tensor<f32>>,
}

impl PpoScratch {
    /// `log π_old(a_i|s_i)` of every row as the last update computed it (on the tape, with no
    /// gradient, before its first step).
    pub fn old_logp(&self) -> &[f32] {
        &self.old_logp
    }

    /// Copies the rows `idx` of the batch into the minibatch buffers.
    fn gather(&mut self, batch: &PpoBatch<'_>, idx: &[usize]) {
        let d = batch.obs_dim;
        self.obs.clear();
        for &r in idx {
            self.obs.extend_from_slice(&batch.obs[r * d..(r + 1) * d]);
        }
        let acts = self.actions.get_or_insert_with(|| batch.actions.clone());
        acts.select_rows(batch.actions, idx);
        let pick = |src: &[f32], dst: &mut Vec<f32>| {
            dst.clear();
            dst.extend(idx.iter().map(|&r| src[r]));
        };
        pick(&self.old_logp, &mut self.mb_old_logp);
        pick(batch.advantages, &mut self.mb_adv);
        pick(batch.targets, &mut self.mb_targets);
        if let Some(v) = batch.old_values {
            pick(v, &mut self.mb_old_values);
        }
    }
}

/// The PPO update: `settings.epochs` passes over `batch` in shuffled minibatches (the order drawn
/// from `rng`; a minibatch as large as the batch is taken in row order, with no draw), each minibatch one clipped policy step and one value step, with learning rates
/// `lr = (policy, value)`.
///
/// The old log-probabilities are recomputed on the tape before the first step (not taken from
/// the rollout, whose tape-free forward pass rounds differently), so the first ratio is exactly 1
/// and one epoch of one full-batch minibatch without clipping is the REINFORCE step bit for bit.
/// The KL check follows SB3: a minibatch whose approximate KL before its step exceeds
/// `1.5 · target_kl` ends the update without stepping.
pub fn update<R: Rng + ?Sized>(
    tape: &mut Tape<f32>,
    models: PpoModels<'_>,
    batch: &PpoBatch<'_>,
    settings: &PpoSettings,
    lr: (f32, f32),
    rng: &mut R,
    scratch: &mut PpoScratch,
) -> Result<PpoStats, NonFinite> {
    let rows = batch.advantages.len();
    let (policy, policy_opt) = models.policy;
    // Work on copies, so a non-finite value leaves the run as it was.
    let (mut pol, mut pol_opt) = (policy.clone(), policy_opt.clone());
    let mut val = models
        .value
        .as_ref()
        .map(|(v, o)| ((*v).clone(), (*o).clone()));
    pol_opt.set_lr(lr.0);
    if let Some((_, o)) = val.as_mut() {
        o.set_lr(lr.1);
    }

    // log π_old on the tape, once, before anything moves.
    tape.reset();
    scratch.old_logp.clear();
    {
        let t = &*tape;
        let obs = t.constant_from_slice(batch.obs, &[rows, batch.obs_dim]);
        t.no_grad(|| {
            let lent = pol.lend(t);
            let (lp, _) = lent.log_prob_entropy(obs, batch.actions);
            lp.with_value(|lp| scratch.old_logp.extend_from_slice(lp.data()));
        });
    }

    let mut stats = PpoStats::default();
    let (mut value_sum, mut value_steps) = (0.0, 0usize);
    scratch.order.clear();
    scratch.order.extend(0..rows);
    let one_minibatch = settings.minibatch_size >= rows;
    'epochs: for _ in 0..settings.epochs {
        // A single full-batch minibatch needs no shuffle (and keeps the rows' summation order).
        if !one_minibatch {
            scratch.order.shuffle(rng);
        }
        let order = std::mem::take(&mut scratch.order);
        // (On an error the buffers are simply dropped: the next update makes new ones.)
        let mut grads = std::mem::take(&mut scratch.grads);
        for idx in order.chunks(settings.minibatch_size.max(1)) {
            scratch.gather(batch, idx);
            let stop = policy_step(
                tape,
                (&mut pol, &mut pol_opt, lr.0),
                settings,
                scratch,
                (&mut stats, &mut grads),
            )?;
            if stop {
                stats.stopped_early = true;
                break;
            }
            if let Some((v, o)) = val.as_mut() {
                value_sum +=
                    value_step(tape, (v, o, lr.1), settings, (batch, scratch), &mut grads)?;
                value_steps += 1;
            }
        }
        scratch.order = order;
        scratch.grads = grads;
        if stats.stopped_early {
            break 'epochs;
        }
    }
    let n = stats.steps.max(1) as f64;
    stats.policy_loss /= n;
    stats.entropy /= n;
    stats.clip_fraction /= n;
    stats.value_loss = if value_steps > 0 {
        value_sum / value_steps as f64
    } else {
        f64::NAN
    };
    *policy = pol;
    *policy_opt = pol_opt;
    if let (Some((v, o)), Some((nv, no))) = (models.value, val) {
        *v = nv;
        *o = no;
    }
    Ok(stats)
}

/// One clipped policy step on the minibatch in `scratch`. Returns true, without stepping, when
/// the minibatch's approximate KL says the policy has moved past the target.
fn policy_step(
    tape: &mut Tape<f32>,
    (pol, opt, lr): (&mut Policy, &mut NetOptimizer, f32),
    settings: &PpoSettings,
    scratch: &PpoScratch,
    (stats, grads): (&mut PpoStats, &mut Vec<Tensor<f32>>),
) -> Result<bool, NonFinite> {
    let m = scratch.mb_adv.len();
    let d = scratch.obs.len() / m.max(1);
    let acts = scratch.actions.as_ref().expect("gathered before the step");
    tape.reset();
    let t = &*tape;
    let obs = t.constant_from_slice(&scratch.obs, &[m, d]);
    let lent = pol.lend(t);
    let (logp, ent) = lent.log_prob_entropy(obs, acts);
    // Read the log-probabilities in place (no copy of the minibatch's values).
    let ratio =
        logp.with_value(|lp| RatioStats::of(lp.data(), &scratch.mb_old_logp, settings.clip_range));
    if settings
        .target_kl
        .is_some_and(|kl| ratio.approx_kl > 1.5 * kl)
    {
        return Ok(true);
    }
    // L = −(1/M) Σ_i min(r_i A_i, clip(r_i, 1 − ε, 1 + ε) A_i) − β H[π_θ]
    let surrogate = -clipped_objective(
        logp,
        &scratch.mb_old_logp,
        &scratch.mb_adv,
        settings.clip_range,
    )
    .mean();
    let loss = surrogate - ent * settings.entropy_coef;
    let (l, e) = (surrogate.item() as f64, ent.item() as f64);
    lent.backward_to(loss, grads);
    drop(lent);
    let norm = clip_grads(grads, settings.max_grad_norm) as f64;
    if !l.is_finite() {
        return Err(NonFinite("policy loss"));
    }
    if !norm.is_finite() {
        return Err(NonFinite("policy gradient norm"));
    }
    step(opt, &mut pol.params_mut(), grads, lr);
    stats.policy_loss += l;
    stats.entropy += e;
    stats.clip_fraction += ratio.clip_fraction;
    stats.grad_norm = stats.grad_norm.max(norm);
    stats.steps += 1;
    Ok(false)
}

/// One value step on the minibatch in `scratch`; returns its loss.
fn value_step(
    tape: &mut Tape<f32>,
    (v, opt, lr): (&mut Mlp, &mut NetOptimizer, f32),
    settings: &PpoSettings,
    (batch, scratch): (&PpoBatch<'_>, &PpoScratch),
    grads: &mut Vec<Tensor<f32>>,
) -> Result<f64, NonFinite> {
    let m = scratch.mb_targets.len();
    tape.reset();
    let t = &*tape;
    let obs = t.constant_from_slice(&scratch.obs, &[m, batch.obs_dim]);
    let lent = v.lend(t);
    let pred = lent.forward(obs);
    let clip_eps = settings.value_clip.filter(|_| batch.old_values.is_some());
    let old = if clip_eps.is_some() {
        &scratch.mb_old_values[..]
    } else {
        &scratch.mb_targets[..]
    };
    let loss = clipped_value_loss(pred, old, &scratch.mb_targets, clip_eps);
    let l = loss.item() as f64;
    if !l.is_finite() {
        return Err(NonFinite("value loss"));
    }
    grads.resize_with(lent.lent().len(), Tensor::empty);
    lent.backward_to(loss, grads);
    drop(lent);
    clip_grads(grads, settings.max_grad_norm);
    step(opt, v.params_mut(), grads, lr);
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use autograd::{GradcheckConfig, Tape, Tensor, gradcheck};

    /// Gradients of `loss` for `vars`, cloned out of one backward pass.
    fn grads_of<T: Float>(loss: Var<'_, T>, vars: &[Var<'_, T>]) -> Vec<Tensor<T>> {
        let g = loss.backward();
        vars.iter().map(|&v| g[v].clone()).collect()
    }

    const EPS: f32 = 0.2;

    use crate::policy::PolicyKind;
    use dense::Activation;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 3-action policy on 4-number observations, a value net, and a batch of 12 rows.
    struct Fixture {
        policy: Policy,
        value: Mlp,
        obs: Vec<f32>,
        actions: Actions,
        adv: Vec<f32>,
        targets: Vec<f32>,
    }

    fn fixture() -> Fixture {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let kind = PolicyKind::Categorical { n: 3 };
        let policy = Policy::new(kind, 4, &[8], Activation::Tanh, 0.0, &mut rng);
        let value = Mlp::new(
            &[4, 8, 1],
            Activation::Tanh,
            Activation::Identity,
            dense::Init::Orthogonal { gain: 1.0 },
            dense::Init::Orthogonal { gain: 1.0 },
            &mut rng,
        );
        let obs = Tensor::<f32>::randn(&[12, 4], &mut rng).data().to_vec();
        let actions = Actions::Discrete((0..12).map(|i| (i * 7) % 3).collect());
        let adv = Tensor::<f32>::randn(&[12], &mut rng).data().to_vec();
        let targets = Tensor::<f32>::randn(&[12], &mut rng).data().to_vec();
        Fixture {
            policy,
            value,
            obs,
            actions,
            adv,
            targets,
        }
    }

    fn adam(lr: f32) -> NetOptimizer {
        NetOptimizer::new(crate::run::optimizer::Optimizer::Adam, lr)
    }

    fn settings() -> PpoSettings {
        PpoSettings {
            epochs: 1,
            minibatch_size: 12,
            clip_range: None,
            value_clip: None,
            target_kl: None,
            entropy_coef: 0.01,
            max_grad_norm: 0.5,
        }
    }

    /// Runs [`update`] on the fixture; returns the updated policy and the stats.
    fn run(f: &Fixture, s: &PpoSettings, adv: &[f32]) -> (Policy, Result<PpoStats, NonFinite>) {
        let (mut pol, mut opt) = (f.policy.clone(), adam(0.01));
        let (mut v, mut vopt) = (f.value.clone(), adam(0.01));
        let batch = PpoBatch {
            obs: &f.obs,
            obs_dim: 4,
            actions: &f.actions,
            advantages: adv,
            targets: &f.targets,
            old_values: Some(&f.targets),
        };
        let models = PpoModels {
            policy: (&mut pol, &mut opt),
            value: Some((&mut v, &mut vopt)),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let r = update(
            &mut Tape::new(),
            models,
            &batch,
            s,
            (0.01, 0.01),
            &mut rng,
            &mut PpoScratch::default(),
        );
        (pol, r)
    }

    #[test]
    fn one_epoch_of_one_minibatch_is_the_reinforce_step_bit_for_bit() {
        let f = fixture();
        // The vanilla step: L = −mean(A log π) − β H, clipped, one Adam step.
        let mut want = f.policy.clone();
        {
            let tape = Tape::<f32>::new();
            let obs = tape.constant_from_slice(&f.obs, &[12, 4]);
            let lent = want.lend(&tape);
            let (lp, ent) = lent.log_prob_entropy(obs, &f.actions);
            let psi = tape.constant_from_slice(&f.adv, &[12]);
            let loss = -(lp * psi).mean() - ent * 0.01;
            let mut grads = Vec::new();
            lent.backward_to(loss, &mut grads);
            drop(lent);
            clip_grads(&mut grads, 0.5);
            adam(0.01).step(&mut want.params_mut(), &grads);
        }
        for clip_range in [None, Some(0.2)] {
            let s = PpoSettings {
                clip_range,
                ..settings()
            };
            let (got, stats) = run(&f, &s, &f.adv);
            assert_eq!(got, want, "clip {clip_range:?}");
            assert_eq!(stats.unwrap().clip_fraction, 0.0);
        }
    }

    #[test]
    fn several_epochs_move_the_ratio_until_clipping_acts() {
        let f = fixture();
        let s = PpoSettings {
            epochs: 8,
            minibatch_size: 4,
            clip_range: Some(0.05),
            ..settings()
        };
        let (got, stats) = run(&f, &s, &f.adv);
        let stats = stats.unwrap();
        assert_eq!(stats.steps, 8 * 3);
        assert!(!stats.stopped_early);
        assert!(stats.clip_fraction > 0.0, "{stats:?}");
        assert_ne!(got, f.policy);
    }

    #[test]
    fn the_kl_target_stops_the_update_before_the_step_that_passes_it() {
        let f = fixture();
        let s = PpoSettings {
            epochs: 4,
            minibatch_size: 4,
            target_kl: Some(1e-12),
            ..settings()
        };
        let (_, stats) = run(&f, &s, &f.adv);
        let stats = stats.unwrap();
        // The first minibatch sees r = 1 (KL 0) and steps; the next one has moved and stops.
        assert_eq!(stats.steps, 1);
        assert!(stats.stopped_early);
    }

    #[test]
    fn a_non_finite_loss_changes_nothing() {
        let f = fixture();
        let mut adv = f.adv.clone();
        adv[5] = f32::NAN;
        let (got, stats) = run(&f, &settings(), &adv);
        assert_eq!(stats, Err(NonFinite("policy loss")));
        assert_eq!(got, f.policy);
    }

    #[test]
    fn the_old_log_probs_are_those_recorded_when_acting() {
        let f = fixture();
        // Act with the policy, as a rollout does, recording log π_old(a|s) tape-free.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut acts, mut stored) = (Actions::empty_like(&f.policy, 12), Vec::new());
        f.policy.act(
            &f.obs,
            12,
            &mut rng,
            false,
            &mut acts,
            &mut stored,
            &mut Vec::new(),
        );
        let (mut pol, mut opt) = (f.policy.clone(), adam(0.01));
        let batch = PpoBatch {
            obs: &f.obs,
            obs_dim: 4,
            actions: &acts,
            advantages: &f.adv,
            targets: &f.targets,
            old_values: None,
        };
        let models = PpoModels {
            policy: (&mut pol, &mut opt),
            value: None,
        };
        let s = PpoSettings {
            epochs: 3,
            ..settings()
        };
        let mut scratch = PpoScratch::default();
        let stats = update(
            &mut Tape::new(),
            models,
            &batch,
            &s,
            (0.01, 0.0),
            &mut rng,
            &mut scratch,
        );
        assert!(stats.unwrap().value_loss.is_nan());
        // The update starts from the acting policy's log-probabilities (to rounding: the
        // tape-free forward pass sums in another order)...
        for (r, (a, b)) in scratch.old_logp().iter().zip(&stored).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "row {r}: {a} vs {b}"
            );
        }
        // ...and exactly from the taped forward pass of the policy before the update.
        let tape = Tape::new();
        let obs = tape.constant_from_slice(&f.obs, &[12, 4]);
        let mut before = f.policy.clone();
        let lent = before.lend(&tape);
        let (lp, _) = lent.log_prob_entropy(obs, &acts);
        assert_eq!(lp.value().data(), scratch.old_logp());
    }

    /// `(loss, dloss/dlogp)` of `−mean(L^CLIP)` for one sample with `log r = log_r`, advantage `a`.
    fn one_sample(log_r: f32, a: f32, clip: Option<f32>) -> (f32, f32) {
        let tape = Tape::<f32>::new();
        let old = -1.0f32;
        let logp = tape.param(&Tensor::from_vec(vec![old + log_r], &[1]));
        let loss = -clipped_objective(logp, &[old], &[a], clip).mean();
        (loss.item(), grads_of(loss, &[logp])[0].data()[0])
    }

    #[test]
    fn inside_the_trust_region_the_gradient_is_a_times_r() {
        // r = e^0.1 ≈ 1.105 < 1.2, A = 2: L = −r A, dL/dlog π = −A r.
        let r = 0.1f32.exp();
        let (l, g) = one_sample(0.1, 2.0, Some(EPS));
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
        // A < 0 and r = e^-0.1 ≈ 0.905 > 0.8: still the plain term.
        let r = (-0.1f32).exp();
        let (l, g) = one_sample(-0.1, -3.0, Some(EPS));
        assert!(
            (l - 3.0 * r).abs() < 1e-6 && (g - 3.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
    }

    #[test]
    fn clipping_zeroes_the_gradient_outside_the_trust_region() {
        // A > 0, r = e^0.5 ≈ 1.65 > 1.2: L = −1.2 A, gradient 0.
        let (l, g) = one_sample(0.5, 2.0, Some(EPS));
        assert!((l + 1.2 * 2.0).abs() < 1e-6, "{l}");
        assert_eq!(g, 0.0);
        // A < 0, r = e^-0.5 ≈ 0.61 < 0.8: L = −0.8 A, gradient 0.
        let (l, g) = one_sample(-0.5, -3.0, Some(EPS));
        assert!((l - 0.8 * 3.0).abs() < 1e-6, "{l}");
        assert_eq!(g, 0.0);
    }

    #[test]
    fn the_pessimistic_side_is_never_clipped() {
        // A > 0 with r = e^-0.5 < 0.8: r A is the smaller term, so the gradient A r stays, pulling
        // the probability of a good action back up however far it fell.
        let r = (-0.5f32).exp();
        let (l, g) = one_sample(-0.5, 2.0, Some(EPS));
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
        // A < 0 with r = e^0.5 > 1.2: likewise.
        let r = 0.5f32.exp();
        let (l, g) = one_sample(0.5, -3.0, Some(EPS));
        assert!(
            (l - 3.0 * r).abs() < 1e-6 && (g - 3.0 * r).abs() < 1e-6,
            "{l} {g}"
        );
    }

    #[test]
    fn without_clipping_the_ratio_term_is_never_cut() {
        let r = 0.5f32.exp();
        let (l, g) = one_sample(0.5, 2.0, None);
        assert!(
            (l + 2.0 * r).abs() < 1e-6 && (g + 2.0 * r).abs() < 1e-5,
            "{l} {g}"
        );
    }

    #[test]
    fn at_ratio_one_the_gradient_is_the_reinforce_gradient_bit_for_bit() {
        let logp = [-0.3f32, -1.7, -0.01, -2.5];
        let adv = [1.5f32, -0.7, 0.0, 2.25];
        let reinforce = {
            let tape = Tape::<f32>::new();
            let lp = tape.param(&Tensor::from_vec(logp.to_vec(), &[4]));
            let psi = tape.constant_from_slice(&adv, &[4]);
            grads_of(-(lp * psi).mean(), &[lp])
        };
        for clip in [None, Some(EPS)] {
            let tape = Tape::<f32>::new();
            let lp = tape.param(&Tensor::from_vec(logp.to_vec(), &[4]));
            let loss = -clipped_objective(lp, &logp, &adv, clip).mean();
            assert_eq!(grads_of(loss, &[lp]), reinforce, "clip {clip:?}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let old = [-0.4f64, -1.2, -0.9, -2.0, -0.1];
        let adv = [1.0f64, -2.0, 0.5, -0.3, 3.0];
        // Ratios chosen away from the clip edges (where the objective has kinks).
        let logp = Tensor::from_vec(vec![-0.3, -1.5, -0.5, -2.05, -0.12], &[5]);
        for clip in [None, Some(0.2)] {
            let report = gradcheck(
                |_, x| clipped_objective(x[0], &old, &adv, clip),
                std::slice::from_ref(&logp),
                &GradcheckConfig::default(),
            );
            assert!(report.passes(1e-6), "clip {clip:?}: {report}");
        }
    }

    #[test]
    fn value_clipping_by_hand() {
        // V_old = 1, target 3, ε = 0.5. A new V = 2 moved 1 > ε: V_clip = 1.5,
        // max((2 − 3)², (1.5 − 3)²) = 2.25 on the clipped side, which has no gradient in V.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![2.0], &[1, 1]));
        let loss = clipped_value_loss(v, &[1.0], &[3.0], Some(0.5));
        assert_eq!(loss.item(), 2.25);
        assert_eq!(grads_of(loss, &[v])[0].data(), &[0.0]);
        // New V = 1.2 moved 0.2 < ε: both terms are (1.2 − 3)², gradient 2 (V − Ŷ) = −3.6.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![1.2], &[1, 1]));
        let loss = clipped_value_loss(v, &[1.0], &[3.0], Some(0.5));
        assert!((loss.item() - 3.24).abs() < 1e-5);
        assert!((grads_of(loss, &[v])[0].data()[0] + 3.6).abs() < 1e-5);
        // Without clipping, the plain mean squared error.
        let tape = Tape::<f32>::new();
        let v = tape.param(&Tensor::from_vec(vec![2.0, 0.0], &[2]));
        let loss = clipped_value_loss(v, &[1.0, 1.0], &[3.0, 1.0], None);
        assert_eq!(loss.item(), 1.0);
    }

    #[test]
    fn ratio_stats_by_hand() {
        // log r = 0, ln 1.5, ln 0.5: r = 1, 1.5, 0.5. With ε = 0.2 two of three are outside.
        let old = [0.0f32, 0.0, 0.0];
        let new = [0.0f32, 1.5f32.ln(), 0.5f32.ln()];
        let s = RatioStats::of(&new, &old, Some(0.2));
        assert!((s.clip_fraction - 2.0 / 3.0).abs() < 1e-12);
        let want = ((0.5 - 1.5f64.ln()) + (-0.5 - 0.5f64.ln())) / 3.0;
        assert!((s.approx_kl - want).abs() < 1e-6, "{}", s.approx_kl);
        assert_eq!(RatioStats::of(&new, &old, None).clip_fraction, 0.0);
        assert_eq!(RatioStats::of(&old, &old, Some(0.2)), RatioStats::default());
    }
}
