//! The typed training configuration of `pg train`: every field documented, named presets per
//! environment, loading from TOML with unknown or mistyped keys rejected by name, and
//! `--set key=value` overrides (all of it through [`RunConfig`], shared with `pg lm`).
//!
//! A run's configuration is assembled in layers, each overriding the one before:
//! 1. a preset of the environment ([`Config::preset`], or `--preset NAME`),
//! 2. a TOML file (`--config FILE`), which may set any subset of the keys,
//! 3. `--set key=value` arguments, in order (the value is read as TOML; a bare word is a string).
//!
//! The result is saved as `config.toml` in the run directory and reloads to the same value.
//! Renamed keys: `policy_lr` is now `lr` (the old name is still read).

use crate::error::{PgError, Result};
use crate::run::bounds;
use crate::run::config::{
    DEFAULT_PRESET, RunConfig, bad_value, check_non_negative, check_ppo_keys, check_size,
    seed_from_toml, seed_to_toml, short_f32, unknown_preset,
};
use serde::{Deserialize, Serialize};

pub use crate::run::optimizer::Optimizer;
pub use crate::run::schedule::LrSchedule;

/// Which estimate of "how good was this action" weights `∇ log π(a|s)` in the policy gradient.
///
/// All four are unbiased estimates of the same gradient (up to the bias GAE accepts for λ < 1);
/// they differ in variance. See the crate documentation for the derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// Textbook REINFORCE (Williams 1992): every step weighted by the whole episode's return `R(τ)`.
    Reinforce,
    /// Reward-to-go `G_t = Σ_{k≥t} γ^{k−t} r_k`: an action is only credited with what followed it.
    RewardToGo,
    /// Reward-to-go minus a learned state-value baseline `V(s_t)` (Spinning Up's VPG).
    Vpg,
    /// Generalised advantage estimation GAE(λ) with a learned value function.
    Gae,
}

impl Estimator {
    /// Whether the estimator trains a value function.
    pub fn uses_value_function(self) -> bool {
        matches!(self, Estimator::Vpg | Estimator::Gae)
    }
}

/// How a batch updates the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    /// The vanilla policy gradient: one step on the surrogate `−mean(Â log π)` per batch, then
    /// `value_iters` full-batch value steps.
    Pg,
    /// PPO: `update_epochs` passes of shuffled `minibatch_size` minibatches, each one clipped
    /// policy step and one value step (see [`crate::ppo`]).
    Ppo,
}

/// Hidden-layer activation of the policy and value MLPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `tanh(x)`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
}

/// Everything that determines a training run. Saved as `config.toml` in every run directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environment id, e.g. `"CartPole-v1"` (`pg envs` lists them).
    pub env_id: String,
    /// Seed of everything random: network initialisation and action sampling use a ChaCha8 RNG
    /// seeded with it; environment `i` of the vector env is seeded with `seed + i`.
    #[serde(serialize_with = "seed_to_toml", deserialize_with = "seed_from_toml")]
    pub seed: u64,
    /// The return estimator: `reinforce`, `reward_to_go`, `vpg` or `gae`.
    pub estimator: Estimator,
    /// Budget of environment steps, summed over all environments. Training stops at the first
    /// epoch boundary at or past it.
    pub total_env_steps: u64,
    /// Number of environment copies stepped together (the batch of each forward pass).
    pub num_envs: usize,
    /// Steps taken in each environment per epoch; one epoch is `num_envs × steps_per_env` steps
    /// followed by one policy update.
    pub steps_per_env: usize,
    /// Discount factor γ in `(0, 1]`.
    #[serde(serialize_with = "short_f32")]
    pub gamma: f32,
    /// Rewards are multiplied by this before returns and advantages are computed (the value
    /// function then fits smaller numbers); reported returns are always unscaled.
    #[serde(serialize_with = "short_f32")]
    pub reward_scale: f32,
    /// GAE's λ in `[0, 1]` (used by `gae` only): 0 is the one-step TD advantage, 1 the Monte-Carlo one.
    #[serde(serialize_with = "short_f32")]
    pub gae_lambda: f32,
    /// Normalise the advantages of each batch to mean 0 and standard deviation 1.
    pub normalize_advantages: bool,
    /// Widths of the hidden layers of the policy and value MLPs, e.g. `[64, 64]`.
    pub hidden_sizes: Vec<usize>,
    /// Hidden activation: `tanh` or `relu`.
    pub activation: Activation,
    /// Learning rate of the policy's optimiser (formerly `policy_lr`).
    #[serde(serialize_with = "short_f32")]
    pub lr: f32,
    /// Learning rate of the value function's optimiser.
    #[serde(serialize_with = "short_f32")]
    pub value_lr: f32,
    /// Gradient steps on the value function per epoch (full batch).
    pub value_iters: usize,
    /// Learning-rate schedule: `constant` or `linear` (decay to 0 at `total_env_steps`).
    pub lr_schedule: LrSchedule,
    /// Weight β of the entropy bonus: the policy loss is `−mean(Â log π) − β · mean(H[π])`.
    #[serde(serialize_with = "short_f32")]
    pub entropy_coef: f32,
    /// Clip the global L2 norm of each gradient to this value before the optimiser step; 0 disables.
    #[serde(serialize_with = "short_f32")]
    pub max_grad_norm: f32,
    /// Normalise observations with running means and variances (kept in checkpoints).
    pub normalize_observations: bool,
    /// Initial log standard deviation of the Gaussian policy (continuous actions only).
    #[serde(serialize_with = "short_f32")]
    pub init_log_std: f32,
    /// Save a checkpoint every this many epochs (0: only the final one and on Ctrl-C).
    pub checkpoint_every: u64,
    /// Stop early once the moving average return over `solved_window` episodes reaches `solved_return`.
    pub stop_when_solved: bool,
    /// The average return that counts as solving the environment.
    pub solved_return: f64,
    /// Number of most recent finished episodes in the moving average.
    pub solved_window: usize,
    /// How each batch updates the networks: `pg` (one policy-gradient step) or `ppo`.
    pub update: Update,
    /// PPO: passes over each batch.
    pub update_epochs: usize,
    /// PPO: rows per minibatch (the last one of a pass may be smaller); a minibatch as large as
    /// the batch takes the rows in order.
    pub minibatch_size: usize,
    /// PPO: ε of the clipped ratio `clip(r, 1 − ε, 1 + ε)`, in `[0, 1)`; 0 leaves it unclipped.
    #[serde(serialize_with = "short_f32")]
    pub clip_range: f32,
    /// PPO: ε of the value clip around the values at collection time; 0 disables it.
    #[serde(serialize_with = "short_f32")]
    pub clip_range_value: f32,
    /// PPO: end an update before the minibatch step whose approximate KL to the collecting policy
    /// exceeds `1.5 × target_kl`; 0 disables the check.
    pub target_kl: f64,
    /// The optimiser of the policy and value networks: `adam` or `sgd` (plain, no momentum).
    pub optimizer: Optimizer,
    /// Batches of whole episodes: each epoch collects until this many episodes have ended (over
    /// all environments; with `num_envs = 1`, exactly this many whole episodes, none cut), and
    /// `steps_per_env` is not used. 0: fixed batches of `num_envs × steps_per_env` steps.
    pub batch_episodes: usize,
    /// Evaluate the policy every this many env steps (at the first epoch boundary at or past each
    /// multiple), writing `eval.csv` and keeping `checkpoints/best.ckpt`; 0 disables it.
    pub eval_every: u64,
    /// Deterministic episodes per evaluation, on a separate env with its own seeds.
    pub eval_episodes: usize,
    /// Besides `latest.ckpt`, keep this many of the most recent periodic checkpoints as
    /// `checkpoints/step-N.ckpt`; 0 keeps none.
    pub keep_checkpoints: usize,
}

/// The keys of [`Config`], in declaration order (checked against the struct by a test).
pub const KEYS: &[&str] = &[
    "env_id",
    "seed",
    "estimator",
    "total_env_steps",
    "num_envs",
    "steps_per_env",
    "gamma",
    "reward_scale",
    "gae_lambda",
    "normalize_advantages",
    "hidden_sizes",
    "activation",
    "lr",
    "value_lr",
    "value_iters",
    "lr_schedule",
    "entropy_coef",
    "max_grad_norm",
    "normalize_observations",
    "init_log_std",
    "checkpoint_every",
    "stop_when_solved",
    "solved_return",
    "solved_window",
    "update",
    "update_epochs",
    "minibatch_size",
    "clip_range",
    "clip_range_value",
    "target_kl",
    "optimizer",
    "batch_episodes",
    "eval_every",
    "eval_episodes",
    "keep_checkpoints",
];

/// How many keys the first saved configs had (`env_id` to `solved_window`): every key after them
/// in [`KEYS`] was added later.
const ORIGINAL_KEYS: usize = 24;

/// Every key a saved config may lack, in the order they were added (the tail of [`KEYS`]): such a
/// config takes the default preset's values for them. The PPO keys ([`PPO_KEYS`]), those of the
/// course's chapter 0 ([`COURSE_KEYS`]), then those of periodic evaluation ([`EVAL_KEYS`]).
pub const ADDED_KEYS: &[&str] = KEYS.split_at(ORIGINAL_KEYS).1;

const ADDED_PARTS: (&[&str], &[&str]) = ADDED_KEYS.split_at(6);
const LATER_PARTS: (&[&str], &[&str]) = ADDED_PARTS.1.split_at(2);

/// The keys added with PPO (a config saved before them gets `update = "pg"`).
pub const PPO_KEYS: &[&str] = ADDED_PARTS.0;

/// The keys added with the course's chapter 0 (a config saved before them gets
/// `optimizer = "adam"` and `batch_episodes = 0`).
pub const COURSE_KEYS: &[&str] = LATER_PARTS.0;

/// The keys added with periodic evaluation (no evaluation, no checkpoint history when missing).
pub const EVAL_KEYS: &[&str] = LATER_PARTS.1;

/// The environments that have a preset.
pub const PRESET_ENVS: &[&str] = &[
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
];

/// The preset names of every environment that has presets (the first is the default).
///
/// A new preset is one name here (or in an environment's own list, such as
/// [`CARTPOLE_PRESET_NAMES`]) and one arm in [`Config::preset_named`].
pub const PRESET_NAMES: &[&str] = &[DEFAULT_PRESET, "ppo"];

/// CartPole-v1's presets: those of every environment, and `reinforce` (the textbook algorithm
/// of the course's chapter 0, `Config::reinforce_preset`).
pub const CARTPOLE_PRESET_NAMES: &[&str] = &[DEFAULT_PRESET, "ppo", "reinforce"];

impl Config {
    /// The default preset for `env_id`; `pg train ENV_ID` uses it unchanged.
    ///
    /// ```
    /// let c = policy_gradient::config::Config::preset("CartPole-v1").unwrap();
    /// assert_eq!(c.total_env_steps, 300_000);
    /// assert!(policy_gradient::config::Config::preset("Pong").is_err());
    /// ```
    pub fn preset(env_id: &str) -> Result<Config> {
        Self::preset_named(env_id, DEFAULT_PRESET)
    }

    /// The tuned default preset of each environment.
    fn default_preset(env_id: &str) -> Result<Config> {
        let base = Config {
            env_id: env_id.to_string(),
            seed: 0,
            estimator: Estimator::Gae,
            total_env_steps: 300_000,
            num_envs: 8,
            steps_per_env: 250,
            gamma: 0.99,
            reward_scale: 1.0,
            gae_lambda: 0.95,
            normalize_advantages: true,
            hidden_sizes: vec![64, 64],
            activation: Activation::Tanh,
            lr: 3e-3,
            value_lr: 1e-3,
            value_iters: 20,
            lr_schedule: LrSchedule::Linear,
            entropy_coef: 0.0,
            max_grad_norm: 1.0,
            normalize_observations: false,
            init_log_std: -0.5,
            checkpoint_every: 20,
            stop_when_solved: false,
            solved_return: 475.0,
            solved_window: 100,
            update: Update::Pg,
            update_epochs: 10,
            minibatch_size: 64,
            clip_range: 0.2,
            clip_range_value: 0.0,
            target_kl: 0.0,
            optimizer: Optimizer::Adam,
            batch_episodes: 0,
            eval_every: 0,
            eval_episodes: 10,
            keep_checkpoints: 0,
        };
        let c = match env_id {
            // Half the value steps of the other discrete presets at a higher value rate: the same
            // 10/10 seeds solve it, at twice the throughput.
            "CartPole-v1" => Config {
                value_iters: 10,
                value_lr: 2e-3,
                ..base
            },
            "Acrobot-v1" => Config {
                total_env_steps: 500_000,
                solved_return: -100.0,
                ..base
            },
            "MountainCar-v0" => Config {
                total_env_steps: 1_000_000,
                entropy_coef: 0.01,
                normalize_observations: true,
                solved_return: -110.0,
                ..base
            },
            // Continuous control: many small batches (512 steps) and a 3x larger policy step
            // than the discrete presets; Pendulum's dense costs want a short horizon (γ = λ = 0.9),
            // rewards scaled by 0.1 for the value fit, and an entropy bonus so that every seed
            // keeps exploring until it finds the swing-up.
            "Pendulum-v1" => Config {
                total_env_steps: 1_000_000,
                steps_per_env: 64,
                gamma: 0.9,
                gae_lambda: 0.9,
                reward_scale: 0.1,
                lr: 1e-2,
                value_iters: 10,
                entropy_coef: 0.01,
                normalize_observations: true,
                init_log_std: 0.0,
                checkpoint_every: 100,
                solved_return: -400.0,
                ..base
            },
            "MountainCarContinuous-v0" => Config {
                total_env_steps: 1_000_000,
                steps_per_env: 64,
                lr: 1e-2,
                value_iters: 10,
                normalize_observations: true,
                init_log_std: 0.0,
                checkpoint_every: 100,
                solved_return: 90.0,
                ..base
            },
            _ => {
                return Err(Self::preset_names(env_id).err().unwrap_or_else(|| {
                    bad_value("env_id", "the presets", format!("no preset for `{env_id}`"))
                }));
            }
        };
        Ok(c)
    }

    /// The `ppo` preset of each environment: the default preset's environment settings with a
    /// PPO update, sized after the usual PPO settings for these tasks (short rollouts, several
    /// epochs of minibatches, clip 0.2).
    fn ppo_preset(env_id: &str) -> Result<Config> {
        let base = Config {
            update: Update::Ppo,
            ..Self::default_preset(env_id)?
        };
        let c = match env_id {
            "CartPole-v1" => Config {
                total_env_steps: 100_000,
                steps_per_env: 32,
                gamma: 0.98,
                gae_lambda: 0.8,
                lr: 1e-3,
                value_lr: 1e-3,
                update_epochs: 20,
                minibatch_size: 256,
                ..base
            },
            "Acrobot-v1" => Config {
                total_env_steps: 100_000,
                steps_per_env: 64,
                gae_lambda: 0.94,
                lr: 1e-3,
                value_lr: 1e-3,
                normalize_observations: true,
                // Without the bonus one seed in ten collapses onto a policy that never swings up.
                entropy_coef: 0.01,
                update_epochs: 10,
                minibatch_size: 128,
                ..base
            },
            "Pendulum-v1" => Config {
                total_env_steps: 300_000,
                steps_per_env: 256,
                gamma: 0.95,
                gae_lambda: 0.95,
                lr: 3e-3,
                value_lr: 3e-3,
                entropy_coef: 0.0,
                update_epochs: 10,
                minibatch_size: 256,
                checkpoint_every: 20,
                solved_return: -250.0,
                ..base
            },
            _ => Config {
                steps_per_env: 128,
                lr: 1e-3,
                value_lr: 1e-3,
                update_epochs: 4,
                minibatch_size: 256,
                checkpoint_every: 20,
                ..base
            },
        };
        Ok(c)
    }

    /// The `reinforce` preset (CartPole-v1 only): plain REINFORCE as Williams (1992) and the
    /// founding article describe it. Each update follows 4 whole episodes of one environment
    /// (`batch_episodes`), weights every step by its episode's discounted return `R(τ)`
    /// (`estimator = "reinforce"`), with no baseline, no advantage normalisation, no gradient
    /// clip, no entropy bonus, and one plain SGD step at a constant rate; the policy is the
    /// categorical (softmax) one of every discrete env, on the default preset's network.
    ///
    /// The rate 0.003 did best in a small sweep on seeds 0 and 1 (rates 0.01 to 0.0003, 4 or 16
    /// episodes per update); no setting of the sweep solved CartPole-v1 within 300k steps, which
    /// chapter 0 of the course measures and explains.
    fn reinforce_preset(env_id: &str) -> Result<Config> {
        Ok(Config {
            estimator: Estimator::Reinforce,
            num_envs: 1,
            batch_episodes: 4,
            normalize_advantages: false,
            optimizer: Optimizer::Sgd,
            lr: 3e-3,
            lr_schedule: LrSchedule::Constant,
            max_grad_norm: 0.0,
            entropy_coef: 0.0,
            checkpoint_every: 100,
            ..Self::default_preset(env_id)?
        })
    }

    /// Number of environment steps in one epoch; with `batch_episodes`, a lower bound (every
    /// episode takes at least one step).
    pub fn steps_per_epoch(&self) -> u64 {
        match self.batch_episodes {
            0 => (self.num_envs * self.steps_per_env) as u64,
            n => n as u64,
        }
    }

    /// With `batch_episodes = B`, the most steps one environment can take in an epoch: every
    /// environment ends an episode at least every `L` steps (its time limit), so `N`
    /// environments end `B` episodes within `⌈B / N⌉ · L` steps. `None` for an unregistered env.
    ///
    /// ```
    /// use policy_gradient::config::Config;
    /// let c = Config { batch_episodes: 10, num_envs: 4, ..Config::preset("CartPole-v1").unwrap() };
    /// assert_eq!(c.episode_batch_max_steps(), Some(3 * 500));
    /// ```
    pub fn episode_batch_max_steps(&self) -> Option<u64> {
        let limit = envs::spec(&self.env_id).ok()?.max_episode_steps;
        let rounds = (self.batch_episodes as u64).div_ceil(self.num_envs.max(1) as u64);
        Some(rounds.saturating_mul(limit))
    }

    /// Checks the ranges TOML types cannot express and the size bounds of
    /// [`crate::run::bounds`]; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, message: String| bad_value(key, origin, message);
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(bad("gamma", format!("{} is outside (0, 1]", self.gamma)));
        }
        if !(0.0..=1.0).contains(&self.gae_lambda) {
            return Err(bad(
                "gae_lambda",
                format!("{} is outside [0, 1]", self.gae_lambda),
            ));
        }
        let (envs, steps) = (self.num_envs as u64, self.steps_per_env as u64);
        check_size("num_envs", envs, 1, bounds::NUM_ENVS, origin)?;
        check_size("steps_per_env", steps, 1, bounds::STEPS_PER_ENV, origin)?;
        check_size(
            "num_envs × steps_per_env",
            envs * steps,
            1,
            bounds::BATCH_STEPS,
            origin,
        )?;
        if self.batch_episodes > 0
            && let Some(steps) = self.episode_batch_max_steps()
        {
            check_size(
                "batch_episodes (its most steps per env)",
                steps,
                1,
                bounds::STEPS_PER_ENV,
                origin,
            )?;
            check_size(
                "batch_episodes (its most steps per batch)",
                steps.saturating_mul(envs),
                1,
                bounds::BATCH_STEPS,
                origin,
            )?;
        }
        check_size(
            "solved_window",
            self.solved_window as u64,
            1,
            bounds::SOLVED_WINDOW,
            origin,
        )?;
        bounds::check_hidden("hidden_sizes", &self.hidden_sizes, origin)?;
        // The widest observation of the registered envs is Acrobot's 6; 64 covers any added one.
        let mut widths = vec![64u64];
        widths.extend(self.hidden_sizes.iter().map(|&w| w as u64));
        widths.push(64);
        bounds::check_parameters("hidden_sizes", bounds::mlp_parameters(&widths), origin)?;
        check_ppo_keys(self.update_epochs, self.clip_range, origin)?;
        check_size(
            "minibatch_size",
            self.minibatch_size as u64,
            1,
            bounds::BATCH_STEPS,
            origin,
        )?;
        check_non_negative("clip_range_value", self.clip_range_value as f64, origin)?;
        check_non_negative("target_kl", self.target_kl, origin)?;
        for (key, v) in [
            ("lr", self.lr),
            ("value_lr", self.value_lr),
            ("entropy_coef", self.entropy_coef),
            ("max_grad_norm", self.max_grad_norm),
            ("reward_scale", self.reward_scale),
        ] {
            check_non_negative(key, v as f64, origin)?;
        }
        if !self.init_log_std.is_finite() {
            return Err(bad(
                "init_log_std",
                format!("{}; expected a finite number", self.init_log_std),
            ));
        }
        if !self.solved_return.is_finite() {
            return Err(bad(
                "solved_return",
                format!("{}; expected a finite number", self.solved_return),
            ));
        }
        crate::run::evaluation::validate(self, origin)
    }

    /// The configuration as TOML text (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        RunConfig::to_toml(self)
    }

    /// Parses a complete configuration (a saved `config.toml`); every key must be present.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        <Config as RunConfig>::from_toml(text, origin)
    }

    /// Applies `--set key=value` arguments in order. The value is read as a TOML value
    /// (`0.99`, `true`, `[32, 32]`, `"gae"`); a bare word such as `gae` is taken as a string.
    ///
    /// ```
    /// use policy_gradient::config::Config;
    /// let c = Config::preset("CartPole-v1").unwrap();
    /// let c = c.apply_sets(&["gamma=0.9".into(), "estimator=vpg".into()]).unwrap();
    /// assert_eq!(c.gamma, 0.9);
    /// let err = c.apply_sets(&["gama=0.9".into()]).unwrap_err();
    /// assert!(err.to_string().contains("`gama`"));
    /// ```
    pub fn apply_sets(&self, sets: &[String]) -> Result<Config> {
        RunConfig::apply_sets(self, sets)
    }
}

impl RunConfig for Config {
    const KEYS: &'static [&'static str] = KEYS;
    const SUBJECT_KEY: &'static str = "env_id";
    const RENAMED: &'static [(&'static str, &'static str)] = &[("policy_lr", "lr")];
    const ADDED: &'static [&'static str] = ADDED_KEYS;

    fn preset_names(env_id: &str) -> Result<&'static [&'static str]> {
        if env_id == "CartPole-v1" {
            return Ok(CARTPOLE_PRESET_NAMES);
        }
        if PRESET_ENVS.contains(&env_id) {
            return Ok(PRESET_NAMES);
        }
        if envs::spec(env_id).is_ok() {
            // A registered env without a preset (CartPole-v0) trains from a complete --config.
            return Err(bad_value(
                "env_id",
                "the presets",
                format!(
                    "`{env_id}` has no training preset; presets exist for {}; \
                     pass a complete configuration with --config FILE",
                    PRESET_ENVS.join(", ")
                ),
            ));
        }
        Err(PgError::UnknownEnv {
            id: env_id.to_string(),
            known: PRESET_ENVS.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn preset_named(env_id: &str, name: &str) -> Result<Self> {
        let names = Self::preset_names(env_id)?;
        match name {
            DEFAULT_PRESET => Self::default_preset(env_id),
            "ppo" => Self::ppo_preset(env_id),
            "reinforce" if names.contains(&"reinforce") => Self::reinforce_preset(env_id),
            _ => Err(unknown_preset(env_id, name, names)),
        }
    }

    fn template(env_id: &str) -> Result<Self> {
        match Self::preset_names(env_id) {
            Err(PgError::UnknownEnv { id, known }) => Err(PgError::UnknownEnv { id, known }),
            _ => Ok(Config {
                env_id: env_id.to_string(),
                ..Self::default_preset("CartPole-v1")?
            }),
        }
    }

    fn validate(&self, origin: &str) -> Result<()> {
        Config::validate(self, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::config::Layers;

    /// The layers of a command line: the env id, a file's text and name, `--set` arguments.
    fn assemble(env: Option<&str>, file: Option<(&str, &str)>, sets: &[String]) -> Result<Config> {
        let layers = Layers {
            preset: None,
            file: file.map(|(t, o)| (t.to_string(), o.to_string())),
            sets: sets.to_vec(),
        };
        <Config as RunConfig>::assemble(env, &layers)
    }

    #[test]
    fn keys_list_matches_the_struct() {
        let t = toml::Table::try_from(Config::preset("CartPole-v1").unwrap()).unwrap();
        let keys: Vec<&str> = t.keys().map(|k| k.as_str()).collect();
        let mut expected = KEYS.to_vec();
        expected.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn added_keys_are_the_ppo_and_course_keys() {
        assert_eq!(PPO_KEYS.last(), Some(&"target_kl"));
        assert_eq!(COURSE_KEYS, ["optimizer", "batch_episodes"]);
        // A config saved before the course keys loads with their default values.
        let c = Config::preset("CartPole-v1").unwrap();
        let old: String = c
            .to_toml()
            .lines()
            .filter(|l| !COURSE_KEYS.iter().any(|k| l.starts_with(&format!("{k} "))))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(Config::from_toml(&old, "old.toml").unwrap(), c);
    }

    #[test]
    fn every_preset_is_valid_and_round_trips() {
        for env in PRESET_ENVS {
            let c = Config::preset(env).unwrap();
            c.validate("preset").unwrap();
            assert_eq!(&c.env_id, env);
            let back = Config::from_toml(&c.to_toml(), "saved").unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn the_reinforce_preset_is_plain_reinforce_on_cartpole_only() {
        let c = <Config as RunConfig>::preset_named("CartPole-v1", "reinforce").unwrap();
        c.validate("preset").unwrap();
        assert_eq!(Config::from_toml(&c.to_toml(), "saved").unwrap(), c);
        assert_eq!(
            (c.estimator, c.optimizer, c.num_envs, c.batch_episodes),
            (Estimator::Reinforce, Optimizer::Sgd, 1, 4)
        );
        assert!(!c.normalize_advantages && !c.estimator.uses_value_function());
        assert_eq!((c.max_grad_norm, c.entropy_coef), (0.0, 0.0));
        assert_eq!(c.lr_schedule, LrSchedule::Constant);
        let e = <Config as RunConfig>::preset_named("Acrobot-v1", "reinforce")
            .unwrap_err()
            .to_string();
        assert!(e.contains("reinforce") && e.contains("ppo"), "{e}");
    }

    #[test]
    fn unknown_env_lists_known_ones() {
        let e = Config::preset("Pong-v5").unwrap_err().to_string();
        assert!(
            e.contains("unknown environment id `Pong-v5`") && e.contains("Acrobot-v1"),
            "{e}"
        );
    }

    #[test]
    fn registered_env_without_preset_says_so() {
        let e = Config::preset("CartPole-v0").unwrap_err().to_string();
        assert!(
            e.contains("`CartPole-v0` has no training preset")
                && e.contains("CartPole-v1")
                && e.contains("--config"),
            "{e}"
        );
    }

    #[test]
    fn file_overrides_preset_and_rejects_unknown_keys() {
        let c = assemble(
            Some("Acrobot-v1"),
            Some(("gamma = 0.95\nseed = 3\n", "f.toml")),
            &[],
        )
        .unwrap();
        assert_eq!(
            (c.gamma, c.seed, c.env_id.as_str()),
            (0.95, 3, "Acrobot-v1")
        );
        assert_eq!(c.total_env_steps, 500_000);
        let e = assemble(Some("Acrobot-v1"), Some(("gamm = 0.95\n", "f.toml")), &[]).unwrap_err();
        assert!(
            matches!(&e, PgError::UnknownConfigKey { key, .. } if key == "gamm"),
            "{e}"
        );
        assert!(e.to_string().contains("f.toml"));
    }

    #[test]
    fn mistyped_value_names_the_key() {
        let e = assemble(
            Some("CartPole-v1"),
            Some(("num_envs = \"eight\"\n", "f.toml")),
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(&e, PgError::BadConfigValue { key, .. } if key == "num_envs"),
            "{e}"
        );
        // PPO is an update scheme (`update = "ppo"`), not a return estimator.
        let e = Config::preset("CartPole-v1")
            .unwrap()
            .apply_sets(&["estimator=ppo".into()])
            .unwrap_err();
        assert!(
            matches!(&e, PgError::BadConfigValue { key, .. } if key == "estimator"),
            "{e}"
        );
        assert!(e.to_string().contains("ppo"), "{e}");
        let c = Config::preset("CartPole-v1")
            .unwrap()
            .apply_sets(&["update=ppo".into(), "clip_range=0.1".into()])
            .unwrap();
        assert_eq!((c.update, c.clip_range), (Update::Ppo, 0.1));
        for (set, key) in [
            ("update_epochs=0", "update_epochs"),
            ("minibatch_size=0", "minibatch_size"),
            ("update_epochs=1000000", "update_epochs"),
            ("clip_range=1.0", "clip_range"),
            ("target_kl=-1", "target_kl"),
        ] {
            let e = Config::preset("CartPole-v1")
                .unwrap()
                .apply_sets(&[set.into()])
                .unwrap_err();
            assert!(e.to_string().contains(&format!("`{key}`")), "{set}: {e}");
        }
        let e = Config::preset("CartPole-v1")
            .unwrap()
            .apply_sets(&["gamma=1.5".into()])
            .unwrap_err();
        assert!(
            e.to_string().contains("`gamma`") && e.to_string().contains("1.5"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_is_reported_with_origin() {
        let e = assemble(Some("CartPole-v1"), Some(("gamma = = 1", "bad.toml")), &[]).unwrap_err();
        assert!(matches!(e, PgError::ConfigSyntax { .. }));
        assert!(e.to_string().contains("bad.toml"));
    }

    #[test]
    fn sets_apply_in_order_and_parse_toml_values() {
        let c = Config::preset("CartPole-v1").unwrap();
        let c = c
            .apply_sets(&[
                "hidden_sizes=[32, 16]".into(),
                "seed=5".into(),
                "seed=6".into(),
                "normalize_observations=true".into(),
                "lr=1".into(),
            ])
            .unwrap();
        assert_eq!(c.hidden_sizes, vec![32, 16]);
        assert_eq!(c.seed, 6);
        assert!(c.normalize_observations);
        assert_eq!(c.lr, 1.0);
        assert!(matches!(
            c.apply_sets(&["seed".into()]),
            Err(PgError::BadSetArgument(_))
        ));
    }

    #[test]
    fn env_from_file_when_not_on_command_line() {
        let c = assemble(None, Some(("env_id = \"Pendulum-v1\"\n", "f.toml")), &[]).unwrap();
        assert_eq!(c, Config::preset("Pendulum-v1").unwrap());
        assert!(assemble(None, None, &[]).is_err());
    }
}
