//! The training loop, one epoch at a time: collect a batch with the current policy, estimate the
//! advantages, then update: one policy-gradient step and a few value-function steps (`pg`), or
//! PPO's epochs of clipped minibatch steps (`ppo`, in [`crate::ppo`]).
//!
//! The policy step minimises the surrogate whose gradient is the policy-gradient estimate
//! (see the crate documentation for the derivation):
//!
//! `L(θ) = −(1/B) Σ_i Ψ_i log π_θ(a_i|s_i) − β · H[π_θ]`,
//! so `−∇L = (1/B) Σ_i Ψ_i ∇ log π_θ(a_i|s_i) + β ∇H`, the REINFORCE gradient plus the entropy bonus.
//!
//! The value step regresses `V_φ(s_i)` on the targets: `L(φ) = (1/B) Σ_i (V_φ(s_i) − Ŷ_i)²`.

use crate::config::{Config, Update};
use crate::episodes::EpisodeTracker;
use crate::error::{PgError, Result};
use crate::estimate::{EstimateScratch, Values, estimate};
use crate::metrics::{EpochMetrics, explained_variance, summary};
use crate::obs_norm::RunningNorm;
use crate::policy::{Policy, PolicyKind};
use crate::ppo::{self, NonFinite, PpoBatch, PpoModels, PpoScratch, PpoSettings};
use crate::returns;
use crate::rollout::{Rollout, collect};
use crate::run::optimizer::NetOptimizer;
use crate::run::update::{clip_and_step, clip_grads, step};
use autograd::{Tape, Tensor};
use dense::{Activation, Init, Mlp};
use envs::{Space, VecEnv};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// What an update reports for the metrics.
struct UpdateStats {
    policy_loss: f64,
    value_loss: f64,
    entropy: f64,
    grad_norm: f64,
    clip_fraction: f64,
}

/// An update's outcome: its statistics, or the non-finite quantity that stopped it.
type UpdateResult = std::result::Result<UpdateStats, NonFinite>;

/// Clip of normalised observations.
pub const OBS_CLIP: f32 = 10.0;

/// Everything a run holds between epochs. [`crate::checkpoint`] saves and restores all of it, so
/// a resumed run continues bit for bit.
pub struct Trainer {
    pub(crate) config: Config,
    pub(crate) env: VecEnv,
    pub(crate) policy: Policy,
    pub(crate) value: Option<Mlp>,
    pub(crate) policy_opt: NetOptimizer,
    pub(crate) value_opt: Option<NetOptimizer>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) obs_norm: Option<RunningNorm>,
    pub(crate) tracker: EpisodeTracker,
    pub(crate) epoch: u64,
    pub(crate) env_steps: u64,
    pub(crate) elapsed: f64,
    rollout: Rollout,
    scratch: Vec<f32>,
    est: EstimateScratch,
    ppo_scratch: PpoScratch,
    tape: Tape<f32>,
    weights: Vec<f32>,
    targets: Vec<f32>,
    /// The policy's gradient, swapped out of the tape each step ([`Policy::lend`]).
    policy_grads: Vec<Tensor<f32>>,
    /// The value network's gradient, likewise.
    value_grads: Vec<Tensor<f32>>,
}

fn activation(c: &Config) -> Activation {
    match c.activation {
        crate::config::Activation::Tanh => Activation::Tanh,
        crate::config::Activation::Relu => Activation::Relu,
    }
}

/// Makes the vector env of a config, turning an unknown id into [`PgError::UnknownEnv`].
pub fn make_env(id: &str, n: usize) -> Result<VecEnv> {
    crate::custom_env::make_vec_env(id, n)
}

/// The policy kind for an action space.
pub fn policy_kind(space: &Space) -> PolicyKind {
    match space {
        Space::Discrete { n } => PolicyKind::Categorical { n: *n },
        Space::Box { low, .. } => PolicyKind::Gaussian { dim: low.len() },
    }
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("env_id", &self.config.env_id)
            .field("epoch", &self.epoch)
            .field("env_steps", &self.env_steps)
            .finish_non_exhaustive()
    }
}

impl Trainer {
    /// A fresh run: networks initialised and environments reset from `config.seed`.
    pub fn new(config: Config) -> Result<Self> {
        config.validate("the configuration")?;
        let env = make_env(&config.env_id, config.num_envs)?;
        Self::with_env(config, env)
    }

    /// A fresh run on `env`, your own environments ([`VecEnv::from_envs`]) or built-in ones.
    /// `config.num_envs` must be the number of copies in `env`, and `config.env_id` their id
    /// (register the env with [`crate::custom_env::register_env`] so a checkpoint of the run
    /// can be loaded and evaluated by id). A space the policy cannot handle is an error here.
    pub fn with_env(config: Config, mut env: VecEnv) -> Result<Self> {
        config.validate("the configuration")?;
        let id = env.env(0).id();
        if env.num_envs() != config.num_envs || id != config.env_id {
            return Err(PgError::Env(format!(
                "the vector env holds {} copies of `{id}` but the configuration says num_envs = {} \
                 and env_id = `{}`",
                env.num_envs(),
                config.num_envs,
                config.env_id
            )));
        }
        let kind = crate::custom_env::check_spaces(&env)?;
        let obs_dim = env.obs_dim();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let act = activation(&config);
        let policy = Policy::new(
            kind,
            obs_dim,
            &config.hidden_sizes,
            act,
            config.init_log_std,
            &mut rng,
        );
        let value = config.estimator.uses_value_function().then(|| {
            let mut sizes = vec![obs_dim];
            sizes.extend_from_slice(&config.hidden_sizes);
            sizes.push(1);
            Mlp::new(
                &sizes,
                act,
                Activation::Identity,
                Init::Orthogonal {
                    gain: std::f64::consts::SQRT_2,
                },
                Init::Orthogonal { gain: 1.0 },
                &mut rng,
            )
        });
        let policy_opt = NetOptimizer::new(config.optimizer, config.lr);
        let value_opt = value
            .as_ref()
            .map(|_| NetOptimizer::new(config.optimizer, config.value_lr));
        env.reset(config.seed);
        let obs_norm = config
            .normalize_observations
            .then(|| RunningNorm::new(obs_dim, OBS_CLIP));
        let tracker = EpisodeTracker::new(config.num_envs, config.solved_window);
        let rollout = match config.episode_batch_max_steps() {
            Some(max_steps) if config.batch_episodes > 0 => Rollout::of_episodes(
                &policy,
                config.num_envs,
                (config.batch_episodes, max_steps as usize),
                obs_dim,
            ),
            _ => Rollout::new(&policy, config.num_envs, config.steps_per_env, obs_dim),
        };
        Ok(Self {
            config,
            env,
            policy,
            value,
            policy_opt,
            value_opt,
            rng,
            obs_norm,
            tracker,
            epoch: 0,
            env_steps: 0,
            elapsed: 0.0,
            rollout,
            scratch: Vec::new(),
            est: EstimateScratch::default(),
            ppo_scratch: PpoScratch::default(),
            tape: Tape::new(),
            weights: Vec::new(),
            targets: Vec::new(),
            policy_grads: Vec::new(),
            value_grads: Vec::new(),
        })
    }

    /// The run's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The observation normaliser, when normalisation is on.
    pub fn obs_norm(&self) -> Option<&RunningNorm> {
        self.obs_norm.as_ref()
    }

    /// Epochs completed.
    pub fn epochs_done(&self) -> u64 {
        self.epoch
    }

    /// Environment steps taken.
    pub fn env_steps(&self) -> u64 {
        self.env_steps
    }

    /// Whether training should stop: the budget is spent, or the task is solved and
    /// `stop_when_solved` is set.
    pub fn finished(&self) -> bool {
        self.env_steps >= self.config.total_env_steps
            || (self.config.stop_when_solved && self.tracker.solved(self.config.solved_return))
    }

    /// The learning rate `base` at the current step under the configured schedule (linear:
    /// to 0 at `total_env_steps`).
    fn lr(&self, base: f32) -> f32 {
        self.config
            .lr_schedule
            .rate(base, self.env_steps, self.config.total_env_steps)
    }

    /// Runs one epoch and returns its metrics: collect a batch, estimate the advantages, update
    /// the networks (the vanilla policy gradient or PPO, by `config.update`). A non-finite loss
    /// or gradient stops before any parameter changes, with [`PgError::NonFiniteLoss`].
    pub fn epoch(&mut self) -> Result<EpochMetrics> {
        let start = Instant::now();
        let lr = (self.lr(self.config.lr), self.lr(self.config.value_lr));
        let epoch = self.epoch + 1;
        self.tracker.start_epoch();
        collect(
            &mut self.env,
            &self.policy,
            self.obs_norm.as_mut(),
            &mut self.rng,
            &mut self.tracker,
            &mut self.rollout,
            &mut self.scratch,
            self.config.reward_scale,
        )?;
        let (old_values, explained) = self.estimate_advantages();
        let update = match self.config.update {
            Update::Pg => self.pg_update(lr),
            Update::Ppo => self.ppo_update(old_values.as_deref(), lr),
        }
        .map_err(|NonFinite(what)| PgError::NonFiniteLoss {
            at: epoch,
            unit: "epoch",
            what,
            checkpoint: None,
        })?;
        let approx_kl = self.kl_since_collection();

        let rows = self.rollout.rows();
        self.epoch = epoch;
        self.env_steps += rows as u64;
        let secs = start.elapsed().as_secs_f64();
        self.elapsed += secs;
        let (avg, sd, min, max) = summary(self.tracker.finished_returns());
        let lens: Vec<f64> = self
            .tracker
            .finished_lens()
            .iter()
            .map(|&l| l as f64)
            .collect();
        Ok(EpochMetrics {
            epoch,
            env_steps: self.env_steps,
            episodes: lens.len() as u64,
            avg_return: avg,
            std_return: sd,
            min_return: min,
            max_return: max,
            moving_avg_return: self.tracker.moving_average(),
            avg_ep_len: summary(&lens).0,
            policy_loss: update.policy_loss,
            value_loss: update.value_loss,
            entropy: update.entropy,
            approx_kl,
            clip_fraction: update.clip_fraction,
            explained_variance: explained,
            grad_norm: update.grad_norm,
            steps_per_second: rows as f64 / secs.max(1e-9),
            elapsed_seconds: self.elapsed,
        })
    }

    /// Fills `weights` (the advantages Ψ, normalised if configured) and `targets` (the value
    /// targets) for the batch just collected. Returns V(s) of every row before any update (when
    /// there is a value function) and the explained variance of the targets by it.
    fn estimate_advantages(&mut self) -> (Option<Vec<f32>>, f64) {
        let ro = &self.rollout;
        let (rows, d) = (ro.rows(), ro.obs_dim);
        let c = &self.config;
        // V before the update, wherever a value is needed: every row, the tails, the finals.
        let value_all: Option<Vec<f32>> = self.value.as_ref().map(|v| {
            let mut input =
                Vec::with_capacity(ro.obs.len() + ro.tail_obs.len() + ro.final_obs.len());
            input.extend_from_slice(&ro.obs);
            input.extend_from_slice(&ro.tail_obs);
            input.extend_from_slice(&ro.final_obs);
            let mut out = vec![0.0; input.len() / d];
            v.infer(&input, &mut out);
            out
        });
        let values = value_all.as_ref().map(|v| Values {
            rows: &v[..rows],
            tail: &v[rows..rows + ro.num_envs],
            finals: &v[rows + ro.num_envs..],
        });
        estimate(
            c.estimator,
            ro,
            values,
            c.gamma,
            c.gae_lambda,
            &mut self.weights,
            &mut self.targets,
            &mut self.est,
        );
        let explained = values.map_or(f64::NAN, |v| explained_variance(v.rows, &self.targets));
        if c.normalize_advantages {
            returns::normalize(&mut self.weights);
        }
        let row_values = value_all.map(|mut v| {
            v.truncate(rows);
            v
        });
        (row_values, explained)
    }

    /// The vanilla update: one policy-gradient step on the whole batch and `value_iters`
    /// full-batch value steps. The policy gradient is taken before the value steps and applied
    /// after them, so a non-finite value loss leaves both networks as they were.
    fn pg_update(&mut self, (policy_lr, value_lr): (f32, f32)) -> UpdateResult {
        let ro = &self.rollout;
        let (rows, d) = (ro.rows(), ro.obs_dim);
        let c = &self.config;
        let (policy_loss, entropy) = {
            self.tape.reset();
            let tape = &self.tape;
            let obs = tape.constant_from_slice(&ro.obs, &[rows, d]);
            let lent = self.policy.lend(tape);
            let (logp, ent) = lent.log_prob_entropy(obs, &ro.actions);
            let psi = tape.constant_from_slice(&self.weights, &[rows]);
            // L(θ) = −(1/B) Σ_i Ψ_i log π_θ(a_i|s_i) − β H[π_θ]
            let surrogate = -(logp * psi).mean();
            let loss = surrogate - ent * c.entropy_coef;
            lent.backward_to(loss, &mut self.policy_grads);
            (surrogate.item() as f64, ent.item() as f64)
        };
        let grads = &mut self.policy_grads;
        let grad_norm = clip_grads(grads, c.max_grad_norm) as f64;
        if !policy_loss.is_finite() {
            return Err(NonFinite("policy loss"));
        }
        if !grad_norm.is_finite() {
            return Err(NonFinite("policy gradient norm"));
        }

        // The value steps: L(φ) = (1/B) Σ_i (V_φ(s_i) − Ŷ_i)², full batch.
        let mut value_loss = f64::NAN;
        if let (Some(vnet), Some(vopt)) = (self.value.as_mut(), self.value_opt.as_mut()) {
            // Apply later only if every step is finite: work on a copy.
            let mut trial = vnet.clone();
            let mut opt = vopt.clone();
            for it in 0..c.value_iters.max(1) {
                self.tape.reset();
                let tape = &self.tape;
                let obs = tape.constant_from_slice(&ro.obs, &[rows, d]);
                let lent = trial.lend(tape);
                let v = lent.forward(obs);
                let target = tape.constant_from_slice(&self.targets, &[rows, 1]);
                let loss = v.mse(target);
                let l = loss.item() as f64;
                if it == 0 {
                    value_loss = l;
                }
                if !l.is_finite() {
                    return Err(NonFinite("value loss"));
                }
                if c.value_iters == 0 {
                    break;
                }
                let vg = &mut self.value_grads;
                vg.resize_with(lent.lent().len(), Tensor::empty);
                lent.backward_to(loss, vg);
                drop(lent);
                clip_and_step(&mut opt, trial.params_mut(), vg, c.max_grad_norm, value_lr);
            }
            *vnet = trial;
            *vopt = opt;
        }
        step(
            &mut self.policy_opt,
            &mut self.policy.params_mut(),
            &self.policy_grads,
            policy_lr,
        );
        Ok(UpdateStats {
            policy_loss,
            value_loss,
            entropy,
            grad_norm,
            clip_fraction: 0.0,
        })
    }

    /// The PPO update of [`crate::ppo::update`] on the batch just collected; `old_values` are
    /// the values at collection time (for value clipping).
    fn ppo_update(&mut self, old_values: Option<&[f32]>, lr: (f32, f32)) -> UpdateResult {
        let c = &self.config;
        let settings = PpoSettings {
            epochs: c.update_epochs,
            minibatch_size: c.minibatch_size,
            clip_range: (c.clip_range > 0.0).then_some(c.clip_range),
            value_clip: (c.clip_range_value > 0.0).then_some(c.clip_range_value),
            target_kl: (c.target_kl > 0.0).then_some(c.target_kl),
            entropy_coef: c.entropy_coef,
            max_grad_norm: c.max_grad_norm,
        };
        let ro = &self.rollout;
        let batch = PpoBatch {
            obs: &ro.obs,
            obs_dim: ro.obs_dim,
            actions: &ro.actions,
            advantages: &self.weights,
            targets: &self.targets,
            old_values,
        };
        let models = PpoModels {
            policy: (&mut self.policy, &mut self.policy_opt),
            value: self.value.as_mut().zip(self.value_opt.as_mut()),
        };
        let s = ppo::update(
            &mut self.tape,
            models,
            &batch,
            &settings,
            lr,
            &mut self.rng,
            &mut self.ppo_scratch,
        )?;
        Ok(UpdateStats {
            policy_loss: s.policy_loss,
            value_loss: s.value_loss,
            entropy: s.entropy,
            grad_norm: s.grad_norm,
            clip_fraction: s.clip_fraction,
        })
    }

    /// Approximate `KL(π_old ‖ π_new) ≈ mean(log π_old(a|s) − log π_new(a|s))` over the batch:
    /// how far the update moved the policy from the one that collected it.
    fn kl_since_collection(&mut self) -> f64 {
        let ro = &self.rollout;
        let (rows, d) = (ro.rows(), ro.obs_dim);
        self.tape.reset();
        let tape = &self.tape;
        let policy = &mut self.policy;
        let sum = tape.no_grad(|| {
            let obs = tape.constant_from_slice(&ro.obs, &[rows, d]);
            let lent = policy.lend(tape);
            let (new_logp, _) = lent.log_prob_entropy(obs, &ro.actions);
            new_logp.with_value(|new_logp| {
                ro.logp
                    .iter()
                    .zip(new_logp.data())
                    .map(|(&o, &n)| (o - n) as f64)
                    .sum::<f64>()
            })
        });
        sum / rows as f64
    }
}
