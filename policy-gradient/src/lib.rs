//! REINFORCE and its variance-reduced relatives, from the policy-gradient theorem to the `pg`
//! command.
//!
//! # The policy-gradient theorem in a page
//!
//! A stochastic policy `π_θ(a|s)` and the environment together define a distribution over
//! trajectories `τ = (s_0, a_0, r_0, s_1, …)`:
//! `P(τ|θ) = ρ(s_0) Π_t π_θ(a_t|s_t) P(s_{t+1}|s_t, a_t)`.
//! We want to climb the expected return `J(θ) = E_{τ∼π_θ}[R(τ)]`, `R(τ) = Σ_t γ^t r_t`, without
//! knowing or differentiating the dynamics `P(s'|s, a)`.
//!
//! **1. The log-derivative trick.** Since `∇P = P ∇log P`,
//! `∇J = ∇ Σ_τ P(τ|θ) R(τ) = Σ_τ P(τ|θ) ∇log P(τ|θ) R(τ) = E[∇log P(τ|θ) R(τ)]`.
//! In `log P(τ|θ) = log ρ(s_0) + Σ_t [log π_θ(a_t|s_t) + log P(s_{t+1}|s_t, a_t)]` only the policy
//! terms depend on θ, so the dynamics drop out:
//!
//! `∇J(θ) = E_τ[ Σ_t ∇log π_θ(a_t|s_t) · R(τ) ]`  (REINFORCE, Williams 1992).
//!
//! `∇log π` is computed by the tape from [`policy::categorical::log_prob`] (`z_a − logsumexp z`)
//! or [`policy::gaussian::log_prob`] (`Σ_d −(a_d−μ_d)²/2σ_d² − log σ_d − ½ log 2π`). The average
//! over a batch of `B` sampled steps is an unbiased estimate, and it is the gradient of the
//! *surrogate loss* `L(θ) = −(1/B) Σ_i Ψ_i log π_θ(a_i|s_i)` with the weights `Ψ_i` held fixed,
//! which is what [`trainer::Trainer::epoch`] builds and differentiates. With `Ψ_t = R(τ)` this is
//! [`config::Estimator::Reinforce`], weights from [`returns::episode_returns`].
//!
//! **2. Reward-to-go: the past does not matter.** For any function `f` of the history before
//! `a_t`, `E_{a_t∼π}[∇log π(a_t|s_t) f] = f Σ_a π(a|s_t) ∇log π(a|s_t) = f ∇Σ_a π(a|s_t) = f ∇1 = 0`
//! (the expected grad-log-prob lemma). Rewards earned before `t` are such functions, so dropping
//! them leaves the expectation unchanged and removes their noise:
//! `Ψ_t = G_t = Σ_{k≥t} γ^{k−t} r_k` ([`returns::reward_to_go`], [`config::Estimator::RewardToGo`]).
//!
//! **3. Baselines.** By the same lemma any `b(s_t)` can be subtracted: `Ψ_t = G_t − b(s_t)` is
//! still unbiased. The choice that (nearly) minimises the variance is the state value
//! `V^π(s_t) = E[G_t | s_t]`, learned by regression `min_φ (1/B) Σ_i (V_φ(s_i) − G_i)²` (the value
//! steps in [`trainer::Trainer::epoch`]). `G_t − V(s_t)` estimates the *advantage* of `a_t`: how
//! much better it was than the policy's average in that state ([`config::Estimator::Vpg`],
//! computed in [`estimate::estimate`]). A wrong `V` costs variance, never bias.
//!
//! **4. GAE(λ): trading a little bias for a lot of variance.** With the one-step TD error
//! `δ_t = r_t + γV(s_{t+1}) − V(s_t)` (an advantage estimate that is only as right as `V`),
//! `A_t^{GAE} = Σ_{l≥0} (γλ)^l δ_{t+l}`, computed backwards as `A_t = δ_t + γλ A_{t+1}`
//! ([`returns::gae`], [`config::Estimator::Gae`]). λ = 1 telescopes to `G_t − V(s_t)` (unbiased,
//! noisy); λ = 0 is `δ_t` (quiet, biased by V's errors); λ ≈ 0.9–0.97 is the usual compromise.
//! The value targets become `A_t + V(s_t)`. The discount γ < 1 is itself such a trade: it
//! optimises the discounted return, a biased stand-in for the undiscounted one with less variance.
//!
//! **5. Where episodes end.** A *terminated* episode has no future (`G_{T} = 0`); a *truncated*
//! one (the time limit) and one *cut by the end of the batch* would have gone on, so their
//! future is bootstrapped with `V` of the next observation. [`returns::StepEnd`] carries the
//! distinction into every estimator, with a unit test per case.
//!
//! **6. Practicalities.** Advantages are normalised per batch ([`returns::normalize`]): a
//! constant shift is a baseline and a positive scale a step size, so the direction is kept.
//! An entropy bonus `β H[π]` ([`policy::categorical::entropy`], [`policy::gaussian::entropy`])
//! slows the collapse of exploration. Gradients are clipped to a global norm and steps taken by
//! Adam, or plain SGD with `optimizer = "sgd"` (all from `dense`; [`run::optimizer`]). Observations can be normalised with running statistics
//! ([`obs_norm::RunningNorm`]).
//!
//! # Map
//!
//! | module | what lives there |
//! |---|---|
//! | [`returns`] | whole-episode return, reward-to-go, GAE, advantage normalisation, on plain slices |
//! | [`estimate`] | the estimators applied to a rollout, one environment column at a time |
//! | [`policy`] | categorical and diagonal-Gaussian policies on `dense` MLPs |
//! | [`ppo`] | the clipped surrogate, value clipping and ratio diagnostics, for several steps per batch |
//! | [`rollout`] | collecting a batch on the vector env, without a tape |
//! | [`trainer`] | one epoch: collect, estimate, one policy step, value steps, metrics |
//! | [`config`] | the typed configuration, presets, TOML and `--set` |
//! | [`checkpoint`] | saving and restoring everything, for exact resumption |
//! | [`run`] | the run machinery `pg train` and `pg lm` share: config layers and bounds, run directories and their lock, checkpoints, signals, schedule and update step |
//! | [`metrics`], [`plot`], [`progress`] | a run's metrics file, curves and display |
//! | [`evaluate`] | playing a trained policy |
//! | [`cli`] | the `pg` command |
//!
//! ```no_run
//! use policy_gradient::{config::Config, trainer::Trainer};
//! let mut t = Trainer::new(Config::preset("CartPole-v1")?)?;
//! while !t.finished() {
//!     let m = t.epoch()?;
//!     println!("{} steps: average return {:.1}", m.env_steps, m.moving_avg_return);
//! }
//! # Ok::<(), policy_gradient::PgError>(())
//! ```
#![warn(missing_docs)]

pub mod callback;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod custom_env;
pub mod episodes;
pub mod error;
pub mod estimate;
pub mod evaluate;
pub mod lm;
pub mod metrics;
pub mod obs_norm;
pub mod plot;
pub mod policy;
pub mod ppo;
pub mod progress;
pub mod returns;
pub mod rollout;
pub mod run;
pub mod trainer;

pub use error::{PgError, Result};
