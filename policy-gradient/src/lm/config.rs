//! The typed configurations of `pg lm pretrain`, `pg lm rl` and `pg lm reward`, saved as `config.toml` in every
//! run directory.
//!
//! Each is assembled exactly like `pg train`'s, by [`RunConfig`]: the task's preset (by name,
//! `--preset`), then an optional TOML file, then `--set key=value` arguments in order (the value
//! read as TOML; a bare word is a string). Unknown keys and mistyped values are errors that name
//! the key; sizes are checked against [`crate::run::bounds`].
//!
//! Renamed keys (the old names are still read): `algo` is now `estimator`, the name `pg train`
//! uses for the same idea. Added keys (a saved config without them takes the preset's value):
//! [`PRETRAIN_ADDED`] in pretraining, [`RL_ADDED`] in RL.

use crate::config::{Activation, LrSchedule, Update};
use crate::error::Result;
use crate::run::bounds;
use crate::run::config::{
    DEFAULT_PRESET, RunConfig, bad_value, check_non_negative, check_ppo_keys, check_size,
    seed_from_toml, seed_to_toml, short_f32, unknown_preset,
};
use serde::{Deserialize, Serialize};

/// Supervised pretraining: maximum likelihood on the task's (noisy) training text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Token task id (`pg lm tasks` lists them), e.g. `"addition"`.
    pub task: String,
    /// Seed of the initialisation, the training text and the evaluation samples (ChaCha8).
    #[serde(serialize_with = "seed_to_toml", deserialize_with = "seed_from_toml")]
    pub seed: u64,
    /// Context window `C`: how many previous tokens the model sees.
    pub context: usize,
    /// Width `D` of each token embedding; the MLP's input is the `C·D` concatenation.
    pub embed_dim: usize,
    /// Widths of the MLP's hidden layers, e.g. `[256, 256]`.
    pub hidden_sizes: Vec<usize>,
    /// Hidden activation: `tanh` or `relu`.
    pub activation: Activation,
    /// Number of gradient steps.
    pub steps: u64,
    /// Training texts (prompt and completion) per step, each freshly generated.
    pub batch_size: usize,
    /// Adam learning rate.
    #[serde(serialize_with = "short_f32")]
    pub lr: f32,
    /// Learning-rate schedule: `constant`, or `linear` decay to 0 at the last step.
    pub lr_schedule: LrSchedule,
    /// Clip the global L2 norm of each gradient to this value; 0 disables.
    #[serde(serialize_with = "short_f32")]
    pub max_grad_norm: f32,
    /// Evaluate on held-out prompts every this many steps (and after the last).
    pub eval_every: u64,
    /// Number of held-out prompts per evaluation (the same fixed set every time).
    pub eval_prompts: usize,
    /// Save a checkpoint every this many steps (0: only the final one and on a signal).
    pub checkpoint_every: u64,
    /// The architecture: `mlp` (the window MLP: `embed_dim`, `hidden_sizes`, `activation`) or
    /// `transformer` (`layers`, `heads`, `width`; `context` is then the longest sequence it
    /// reads, prompt and completion together).
    pub model: ModelKind,
    /// Transformer blocks `L` (transformer only).
    pub layers: usize,
    /// Attention heads per block; they must divide `width` (transformer only).
    pub heads: usize,
    /// Width `D` of the transformer's residual stream (transformer only).
    pub width: usize,
}

/// The architecture of the language-model policy (see [`crate::lm::policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// The MLP over the concatenated embeddings of the last `context` tokens.
    Mlp,
    /// The causal transformer ([`crate::lm::gpt`]).
    Transformer,
}

/// The advantage estimator of `pg lm rl` (formulas in [`crate::lm::advantage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// REINFORCE: `A_i = r_i`, or `r_i - mean` with `baseline = "batch_mean"`.
    Reinforce,
    /// RLOO: `A_i = r_i - mean_{j≠i} r_j` within each prompt's group.
    Rloo,
    /// GRPO: `A_i = (r_i - mean_g)/(std_g + eps)` within each prompt's group.
    Grpo,
}

/// The baseline REINFORCE subtracts (ignored by RLOO and GRPO, whose baselines are their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// No baseline: `A_i = r_i`.
    None,
    /// The mean reward of the batch: `A_i = r_i - mean_j r_j`.
    BatchMean,
}

/// How the KL penalty to the reference enters (see [`crate::lm::kl`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlMode {
    /// No penalty (`kl_coef` ignored).
    None,
    /// `r_i ← r_i - β Σ_t k1_t` before the advantages.
    K1Reward,
    /// `loss += β (1/N) Σ_i Σ_t k3_{i,t}`, through the tape.
    K3Loss,
}

/// How the per-token terms of the RL loss are averaged into one number (`N` sequences, `|y_i|`
/// tokens in sequence i, `T = Σ_i |y_i|`; `ℓ_t` is a token's surrogate term `A log π` or its
/// clipped PPO form):
///
/// ```text
/// sum:       L = −(1/N) Σ_i Σ_{t∈i} ℓ_t            (the REINFORCE gradient of the whole text)
/// sequence:  L = −(1/N) Σ_i (1/|y_i|) Σ_{t∈i} ℓ_t  (GRPO's original averaging)
/// token:     L = −(1/T) Σ_i Σ_{t∈i} ℓ_t            (every token weighs the same)
/// ```
///
/// `sequence` gives each token of a short completion more weight than one of a long completion
/// with the same advantage: a wrong answer is punished less per token the longer it is, a bias
/// towards long wrong answers that `sum` and `token` do not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossAveraging {
    /// Sum over a sequence's tokens, mean over sequences.
    Sum,
    /// Mean over a sequence's tokens, mean over sequences.
    Sequence,
    /// Mean over all tokens of the batch.
    Token,
}

/// RL fine-tuning from a pretrained reference checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// Token task id; must be the task the reference was trained on.
    pub task: String,
    /// Seed of prompt and completion sampling (ChaCha8).
    #[serde(serialize_with = "seed_to_toml", deserialize_with = "seed_from_toml")]
    pub seed: u64,
    /// The reference: a `pg lm pretrain` run directory or a checkpoint file. The policy starts
    /// as a copy of it and the KL penalty is measured against it, frozen. A new run saves it as
    /// an absolute path, so the run resumes from any working directory.
    pub reference: String,
    /// The estimator: `reinforce`, `rloo` or `grpo` (formerly `algo`).
    pub estimator: Estimator,
    /// REINFORCE's baseline: `none` or `batch_mean`.
    pub baseline: Baseline,
    /// Distinct prompts per step.
    pub prompts_per_step: usize,
    /// Completions sampled per prompt (`k` of RLOO, `G` of GRPO; REINFORCE samples as many so
    /// that every estimator sees the same number of completions).
    pub samples_per_prompt: usize,
    /// Budget of sampled training completions; training stops at the first step at or past it.
    pub total_samples: u64,
    /// Adam learning rate.
    #[serde(serialize_with = "short_f32")]
    pub lr: f32,
    /// Learning-rate schedule: `constant`, or `linear` decay to 0 at the last step.
    pub lr_schedule: LrSchedule,
    /// Clip the global L2 norm of each gradient to this value; 0 disables.
    #[serde(serialize_with = "short_f32")]
    pub max_grad_norm: f32,
    /// Sampling temperature of the training completions (1 samples the policy itself, which the
    /// policy gradient assumes).
    #[serde(serialize_with = "short_f32")]
    pub temperature: f32,
    /// How the KL penalty enters: `none`, `k1_reward` or `k3_loss`.
    pub kl: KlMode,
    /// The KL coefficient β.
    pub kl_coef: f64,
    /// GRPO's `eps` in `(r - mean)/(std + eps)`.
    pub grpo_eps: f64,
    /// Evaluate on held-out prompts every this many steps (and after the last).
    pub eval_every: u64,
    /// Number of held-out prompts per evaluation.
    pub eval_prompts: usize,
    /// Save a checkpoint every this many steps (0: only the final one).
    pub checkpoint_every: u64,
    /// How each batch updates the policy: `pg` (one step) or `ppo` (`update_epochs` steps on
    /// the clipped ratio to the policy that sampled the batch: GRPO's full objective with
    /// `estimator = "grpo"`).
    pub update: Update,
    /// PPO: gradient steps per batch (GRPO's μ).
    pub update_epochs: usize,
    /// PPO: ε of the clipped ratio, in `[0, 1)`; 0 leaves it unclipped.
    #[serde(serialize_with = "short_f32")]
    pub clip_range: f32,
    /// How token terms are averaged: `sum`, `sequence` or `token` ([`LossAveraging`]).
    pub loss_averaging: LossAveraging,
    /// What the policy optimises: `"task"` (the task's own reward) or `"model:DIR"` (the score
    /// of the reward model `pg lm reward` saved in DIR). The gold score is measured either way,
    /// never optimised. A new run saves DIR as an absolute path.
    pub reward: String,
}

/// The reward the policy optimises, as the `reward` key names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewardSource {
    /// The task's own reward function.
    Task,
    /// A learned reward model saved in this directory (or checkpoint file).
    Model(String),
}

/// The prefix of a learned reward in the `reward` key.
pub const REWARD_MODEL_PREFIX: &str = "model:";

impl RewardSource {
    /// Parses the `reward` key: `task` or `model:DIR`; the error names the key and `origin`.
    ///
    /// ```
    /// use policy_gradient::lm::config::RewardSource;
    /// assert_eq!(RewardSource::parse("task", "").unwrap(), RewardSource::Task);
    /// assert_eq!(RewardSource::parse("model:runs/rm", "").unwrap(), RewardSource::Model("runs/rm".into()));
    /// assert!(RewardSource::parse("gold", "").is_err());
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        match text.strip_prefix(REWARD_MODEL_PREFIX) {
            _ if text == "task" => Ok(RewardSource::Task),
            Some(dir) if !dir.is_empty() => Ok(RewardSource::Model(dir.to_string())),
            _ => Err(bad_value(
                "reward",
                origin,
                format!("`{text}`; expected `task` or `model:DIR` (a `pg lm reward` run)"),
            )),
        }
    }
}

/// Training a reward model on preferences between a policy's completions (`pg lm reward`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardConfig {
    /// Token task id; must be the task the policy was trained on.
    pub task: String,
    /// Seed of the preference data, the minibatches and the initial head (ChaCha8).
    #[serde(serialize_with = "seed_to_toml", deserialize_with = "seed_from_toml")]
    pub seed: u64,
    /// The policy whose completions are compared, and whose weights start the reward model's
    /// backbone: a `pg lm pretrain` (or `pg lm rl`) run directory or checkpoint. A new run saves
    /// it as an absolute path.
    pub policy: String,
    /// Labelled pairs to train on (drawn from training prompts, labels noisy).
    pub train_pairs: usize,
    /// Pairs to measure accuracy on (held-out prompts, labels exact).
    pub heldout_pairs: usize,
    /// Probability that a training label is flipped (a rater's mistake), in `[0, 0.5]`.
    pub label_noise: f64,
    /// Temperature at which the policy samples the compared completions.
    #[serde(serialize_with = "short_f32")]
    pub temperature: f32,
    /// Gradient steps.
    pub steps: u64,
    /// Pairs per step, drawn with replacement from the training pairs.
    pub batch_size: usize,
    /// Adam learning rate.
    #[serde(serialize_with = "short_f32")]
    pub lr: f32,
    /// Learning-rate schedule: `constant`, or `linear` decay to 0 at the last step.
    pub lr_schedule: LrSchedule,
    /// Clip the global L2 norm of each gradient to this value; 0 disables.
    #[serde(serialize_with = "short_f32")]
    pub max_grad_norm: f32,
    /// Measure held-out accuracy every this many steps (and after the last).
    pub eval_every: u64,
    /// Save a checkpoint every this many steps (0: only the final one and on a signal).
    pub checkpoint_every: u64,
}

/// The pretraining keys added after pretraining configs were first saved (a saved config
/// without them takes the preset's value: the MLP).
pub const PRETRAIN_ADDED: &[&str] = &["checkpoint_every", "model", "layers", "heads", "width"];

/// The RL keys added after RL configs were first saved (a saved config without them takes the
/// preset's value: one plain policy-gradient step, summed over tokens).
pub const RL_ADDED: &[&str] = &[
    "update",
    "update_epochs",
    "clip_range",
    "loss_averaging",
    "reward",
];

/// The tasks that have presets.
pub const PRESET_TASKS: &[&str] = &["addition", "reviews", "dialogue", "reverse"];

/// The preset names of every task (the first is the default). A new preset is one name here and
/// one arm in the `preset_named` of [`PretrainConfig`] or [`RlConfig`].
pub const PRESET_NAMES: &[&str] = &[DEFAULT_PRESET];

/// The preset names of `task`, or an error naming the known tasks.
fn task_presets(task: &str) -> Result<&'static [&'static str]> {
    if PRESET_TASKS.contains(&task) {
        Ok(PRESET_NAMES)
    } else {
        Err(bad_value(
            "task",
            "the command line",
            format!(
                "unknown token task `{task}`; known: {}",
                PRESET_TASKS.join(", ")
            ),
        ))
    }
}

/// The preset methods of [`RunConfig`], the same for both LM configurations: presets by task
/// ([`task_presets`]), the default one from `default_preset`.
macro_rules! lm_presets {
    () => {
        fn preset_names(task: &str) -> Result<&'static [&'static str]> {
            task_presets(task)
        }

        fn preset_named(task: &str, name: &str) -> Result<Self> {
            match name {
                DEFAULT_PRESET => Self::default_preset(task),
                _ => Err(unknown_preset(task, name, task_presets(task)?)),
            }
        }

        fn template(task: &str) -> Result<Self> {
            Self::default_preset(task)
        }
    };
}

/// Checks the size of the held-out prompt set.
fn check_eval_prompts(n: usize, origin: &str) -> Result<()> {
    check_size("eval_prompts", n as u64, 1, bounds::EVAL_PROMPTS, origin)
}

impl PretrainConfig {
    /// The default preset of a task; `pg lm pretrain TASK` uses it unchanged.
    ///
    /// ```
    /// let c = policy_gradient::lm::config::PretrainConfig::preset("addition").unwrap();
    /// assert_eq!(c.context, 10);
    /// ```
    pub fn preset(task: &str) -> Result<Self> {
        <Self as RunConfig>::preset_named(task, DEFAULT_PRESET)
    }

    fn default_preset(task: &str) -> Result<Self> {
        task_presets(task)?;
        let base = Self {
            task: task.to_string(),
            seed: 0,
            context: 10,
            embed_dim: 16,
            hidden_sizes: vec![256, 256],
            activation: Activation::Relu,
            steps: 3000,
            batch_size: 128,
            lr: 3e-3,
            lr_schedule: LrSchedule::Linear,
            max_grad_norm: 1.0,
            eval_every: 250,
            eval_prompts: 500,
            checkpoint_every: 250,
            model: ModelKind::Mlp,
            layers: 2,
            heads: 4,
            width: 64,
        };
        match task {
            "reviews" => Ok(Self {
                context: 8,
                hidden_sizes: vec![128, 128],
                steps: 2000,
                batch_size: 64,
                ..base
            }),
            // `addition`, and any task added to PRESET_TASKS without an arm of its own.
            _ => Ok(base),
        }
    }

    /// Checks ranges TOML types cannot express and the size bounds of [`crate::run::bounds`]
    /// (the model's own sizes are checked by [`crate::lm::model::ModelSpec::validate`] too);
    /// the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        bounds::check_token_model(self.context, self.embed_dim, &self.hidden_sizes, origin)?;
        check_size(
            "batch_size",
            self.batch_size as u64,
            1,
            bounds::SEQUENCES_PER_STEP,
            origin,
        )?;
        check_eval_prompts(self.eval_prompts, origin)?;
        check_size("steps", self.steps, 1, u64::MAX, origin)?;
        check_size("eval_every", self.eval_every, 1, u64::MAX, origin)?;
        check_non_negative("lr", self.lr as f64, origin)?;
        check_non_negative("max_grad_norm", self.max_grad_norm as f64, origin)
    }
}

impl RlConfig {
    /// The default preset of a task; `pg lm rl TASK --reference DIR` uses it with the given
    /// reference.
    ///
    /// ```
    /// use policy_gradient::lm::config::{Estimator, RlConfig};
    /// let c = RlConfig::preset("addition").unwrap();
    /// assert_eq!(c.estimator, Estimator::Rloo);
    /// ```
    pub fn preset(task: &str) -> Result<Self> {
        <Self as RunConfig>::preset_named(task, DEFAULT_PRESET)
    }

    fn default_preset(task: &str) -> Result<Self> {
        task_presets(task)?;
        let base = Self {
            task: task.to_string(),
            seed: 0,
            reference: format!("runs/lm-pretrain-{task}-seed0"),
            estimator: Estimator::Rloo,
            baseline: Baseline::BatchMean,
            prompts_per_step: 64,
            samples_per_prompt: 8,
            total_samples: 200_000,
            lr: 1e-3,
            lr_schedule: LrSchedule::Linear,
            max_grad_norm: 1.0,
            temperature: 1.0,
            kl: KlMode::None,
            kl_coef: 0.0,
            grpo_eps: 1e-4,
            eval_every: 10,
            eval_prompts: 1000,
            checkpoint_every: 100,
            update: Update::Pg,
            update_epochs: 1,
            clip_range: 0.2,
            loss_averaging: LossAveraging::Sum,
            reward: "task".into(),
        };
        match task {
            // The KL penalty is what keeps the reviews honest (see the crate README's table).
            "reviews" => Ok(Self {
                kl: KlMode::K1Reward,
                kl_coef: 0.5,
                prompts_per_step: 32,
                total_samples: 60_000,
                ..base
            }),
            // The conversation task's gold judge is its reward: nothing to game, a light leash.
            "dialogue" => Ok(Self {
                kl: KlMode::K1Reward,
                kl_coef: 0.05,
                prompts_per_step: 32,
                total_samples: 60_000,
                ..base
            }),
            // `addition`, and any task added to PRESET_TASKS without an arm of its own.
            _ => Ok(base),
        }
    }

    /// Completions sampled per step.
    pub fn samples_per_step(&self) -> usize {
        self.prompts_per_step * self.samples_per_prompt
    }

    /// Checks ranges TOML types cannot express; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let most = bounds::SEQUENCES_PER_STEP;
        check_size(
            "prompts_per_step",
            self.prompts_per_step as u64,
            1,
            most,
            origin,
        )?;
        check_size(
            "samples_per_prompt",
            self.samples_per_prompt as u64,
            1,
            most,
            origin,
        )?;
        check_size(
            "prompts_per_step × samples_per_prompt",
            (self.prompts_per_step as u64).saturating_mul(self.samples_per_prompt as u64),
            1,
            most,
            origin,
        )?;
        check_size("total_samples", self.total_samples, 1, u64::MAX, origin)?;
        check_size("eval_every", self.eval_every, 1, u64::MAX, origin)?;
        check_eval_prompts(self.eval_prompts, origin)?;
        let min_group = if self.estimator == Estimator::Reinforce {
            1
        } else {
            2
        };
        if self.samples_per_prompt < min_group {
            return Err(bad_value(
                "samples_per_prompt",
                origin,
                format!(
                    "{}; {:?} needs at least {min_group} completions per prompt",
                    self.samples_per_prompt, self.estimator
                ),
            ));
        }
        check_non_negative("lr", self.lr as f64, origin)?;
        check_non_negative("max_grad_norm", self.max_grad_norm as f64, origin)?;
        check_non_negative("kl_coef", self.kl_coef, origin)?;
        check_non_negative("grpo_eps", self.grpo_eps, origin)?;
        check_ppo_keys(self.update_epochs, self.clip_range, origin)?;
        RewardSource::parse(&self.reward, origin)?;
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(bad_value(
                "temperature",
                origin,
                format!("{}; expected a finite number > 0", self.temperature),
            ));
        }
        if self.reference.is_empty() {
            return Err(bad_value(
                "reference",
                origin,
                "empty; expected a pretrain run directory",
            ));
        }
        Ok(())
    }
}

impl RewardConfig {
    /// The default preset of a task; `pg lm reward TASK --policy DIR` uses it with that policy.
    ///
    /// ```
    /// let c = policy_gradient::lm::config::RewardConfig::preset("dialogue").unwrap();
    /// assert!(c.label_noise > 0.0 && c.label_noise <= 0.5);
    /// ```
    pub fn preset(task: &str) -> Result<Self> {
        <Self as RunConfig>::preset_named(task, DEFAULT_PRESET)
    }

    fn default_preset(task: &str) -> Result<Self> {
        task_presets(task)?;
        Ok(Self {
            task: task.to_string(),
            seed: 0,
            policy: format!("runs/lm-pretrain-{task}-seed0"),
            train_pairs: 2000,
            heldout_pairs: 500,
            label_noise: 0.1,
            temperature: 1.0,
            steps: 600,
            batch_size: 64,
            lr: 1e-3,
            lr_schedule: LrSchedule::Linear,
            max_grad_norm: 1.0,
            eval_every: 25,
            checkpoint_every: 100,
        })
    }

    /// Checks ranges TOML types cannot express; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let most = bounds::SAMPLES;
        check_size("train_pairs", self.train_pairs as u64, 1, most, origin)?;
        check_size("heldout_pairs", self.heldout_pairs as u64, 1, most, origin)?;
        check_size(
            "batch_size",
            self.batch_size as u64,
            1,
            bounds::SEQUENCES_PER_STEP / 2,
            origin,
        )?;
        check_size("steps", self.steps, 1, u64::MAX, origin)?;
        check_size("eval_every", self.eval_every, 1, u64::MAX, origin)?;
        if !(0.0..=0.5).contains(&self.label_noise) {
            return Err(bad_value(
                "label_noise",
                origin,
                format!(
                    "{}; expected a probability in [0, 0.5] (above 0.5 the labels mean the opposite)",
                    self.label_noise
                ),
            ));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(bad_value(
                "temperature",
                origin,
                format!("{}; expected a finite number > 0", self.temperature),
            ));
        }
        check_non_negative("lr", self.lr as f64, origin)?;
        check_non_negative("max_grad_norm", self.max_grad_norm as f64, origin)?;
        if self.policy.is_empty() {
            return Err(bad_value(
                "policy",
                origin,
                "empty; expected a pg lm pretrain run directory",
            ));
        }
        Ok(())
    }
}

impl RunConfig for RewardConfig {
    const SUBJECT_KEY: &'static str = "task";
    const KEYS: &'static [&'static str] = &[
        "task",
        "seed",
        "policy",
        "train_pairs",
        "heldout_pairs",
        "label_noise",
        "temperature",
        "steps",
        "batch_size",
        "lr",
        "lr_schedule",
        "max_grad_norm",
        "eval_every",
        "checkpoint_every",
    ];

    lm_presets!();

    fn validate(&self, origin: &str) -> Result<()> {
        RewardConfig::validate(self, origin)
    }
}

impl RunConfig for PretrainConfig {
    const SUBJECT_KEY: &'static str = "task";
    const ADDED: &'static [&'static str] = PRETRAIN_ADDED;
    const KEYS: &'static [&'static str] = &[
        "task",
        "seed",
        "context",
        "embed_dim",
        "hidden_sizes",
        "activation",
        "steps",
        "batch_size",
        "lr",
        "lr_schedule",
        "max_grad_norm",
        "eval_every",
        "eval_prompts",
        "checkpoint_every",
        "model",
        "layers",
        "heads",
        "width",
    ];

    lm_presets!();

    fn validate(&self, origin: &str) -> Result<()> {
        PretrainConfig::validate(self, origin)
    }
}

impl RunConfig for RlConfig {
    const SUBJECT_KEY: &'static str = "task";
    const RENAMED: &'static [(&'static str, &'static str)] = &[("algo", "estimator")];
    const KEYS: &'static [&'static str] = &[
        "task",
        "seed",
        "reference",
        "estimator",
        "baseline",
        "prompts_per_step",
        "samples_per_prompt",
        "total_samples",
        "lr",
        "lr_schedule",
        "max_grad_norm",
        "temperature",
        "kl",
        "kl_coef",
        "grpo_eps",
        "eval_every",
        "eval_prompts",
        "checkpoint_every",
        "update",
        "update_epochs",
        "clip_range",
        "loss_averaging",
        "reward",
    ];

    const ADDED: &'static [&'static str] = RL_ADDED;

    lm_presets!();

    fn validate(&self, origin: &str) -> Result<()> {
        RlConfig::validate(self, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PgError;

    fn keys_of<C: RunConfig>(c: &C) -> Vec<String> {
        let t = toml::Table::try_from(c).unwrap();
        t.keys().cloned().collect()
    }

    #[test]
    fn key_lists_match_the_structs() {
        let sorted = |keys: &[&str]| {
            let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        };
        let mut p = keys_of(&PretrainConfig::preset("addition").unwrap());
        p.sort();
        assert_eq!(p, sorted(PretrainConfig::KEYS));
        let mut r = keys_of(&RlConfig::preset("addition").unwrap());
        r.sort();
        assert_eq!(r, sorted(RlConfig::KEYS));
        let mut m = keys_of(&RewardConfig::preset("addition").unwrap());
        m.sort();
        assert_eq!(m, sorted(RewardConfig::KEYS));
    }

    #[test]
    fn presets_are_valid_and_round_trip() {
        for task in PRESET_TASKS {
            let p = PretrainConfig::preset(task).unwrap();
            p.validate("preset").unwrap();
            assert_eq!(PretrainConfig::from_toml(&p.to_toml(), "saved").unwrap(), p);
            let r = RlConfig::preset(task).unwrap();
            r.validate("preset").unwrap();
            assert_eq!(RlConfig::from_toml(&r.to_toml(), "saved").unwrap(), r);
            let m = RewardConfig::preset(task).unwrap();
            m.validate("preset").unwrap();
            assert_eq!(RewardConfig::from_toml(&m.to_toml(), "saved").unwrap(), m);
        }
        let e = PretrainConfig::preset("poems").unwrap_err().to_string();
        for needle in ["`poems`", "addition, reviews"] {
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn sets_are_typed_and_named() {
        let c = RlConfig::preset("addition").unwrap();
        let sets = ["kl=k3_loss", "kl_coef=0.05", "baseline=none"].map(String::from);
        let c2 = c.apply_sets(&sets).unwrap();
        assert_eq!(c2.kl, KlMode::K3Loss);
        assert_eq!(c2.kl_coef, 0.05);
        assert_eq!(c2.baseline, Baseline::None);
        let e = c.apply_sets(&["kl_coeff=0.1".into()]).unwrap_err();
        assert!(
            matches!(&e, PgError::UnknownConfigKey { key, .. } if key == "kl_coeff"),
            "{e}"
        );
        assert!(
            e.to_string().contains("kl_coef"),
            "the known keys are listed: {e}"
        );
        let e = c.apply_sets(&["kl=k2".into()]).unwrap_err().to_string();
        assert!(e.contains("`kl`"), "{e}");
        let e = c.apply_sets(&["lr=-1".into()]).unwrap_err().to_string();
        assert!(e.contains("`lr`") && e.contains("-1"), "{e}");
        let e = c.apply_sets(&["lr".into()]).unwrap_err().to_string();
        assert!(e.contains("`lr`"), "{e}");
        let e = c
            .apply_sets(&["algo=grpo".into(), "samples_per_prompt=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("samples_per_prompt"), "{e}");
        let p = PretrainConfig::preset("reviews").unwrap();
        let e = p.apply_sets(&["steps=0".into()]).unwrap_err().to_string();
        assert!(e.contains("`steps`"), "{e}");
        let p2 = p.apply_sets(&["hidden_sizes=[32]".into()]).unwrap();
        assert_eq!(p2.hidden_sizes, vec![32]);
    }

    #[test]
    fn overlay_file_sets_a_subset_and_rejects_unknown_keys() {
        let p = PretrainConfig::preset("addition").unwrap();
        let p2 = overlay(&p, "steps = 10\nlr = 0.01\n").unwrap();
        assert_eq!((p2.steps, p2.lr, p2.context), (10, 0.01, p.context));
        let e = overlay(&p, "stepz = 10\n").unwrap_err().to_string();
        assert!(e.contains("`stepz`") && e.contains("f.toml"), "{e}");
        assert!(overlay(&p, "steps = [").is_err());
    }

    fn overlay(p: &PretrainConfig, text: &str) -> Result<PretrainConfig> {
        p.overlay(&crate::run::config::parse_table(text, "f.toml")?, "f.toml")
    }

    #[test]
    fn the_reward_keys_are_checked() {
        let c = RlConfig::preset("dialogue").unwrap();
        let e = c
            .apply_sets(&["reward=gold".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`reward`") && e.contains("model:DIR"), "{e}");
        let e = c.apply_sets(&["reward=model:".into()]).unwrap_err();
        assert!(e.to_string().contains("`reward`"), "{e}");
        let set = c.apply_sets(&["reward=\"model:runs/rm\"".into()]).unwrap();
        assert_eq!(set.reward, "model:runs/rm");
        // An RL config saved before the key existed still loads, optimising the task's reward.
        let mut old = toml::Table::try_from(&c).unwrap();
        old.remove("reward");
        let loaded = RlConfig::from_toml(&toml::to_string(&old).unwrap(), "old.toml").unwrap();
        assert_eq!(loaded.reward, "task");
        let m = RewardConfig::preset("dialogue").unwrap();
        for bad in ["label_noise=0.6", "label_noise=-0.1"] {
            let e = m.apply_sets(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains("`label_noise`") && e.contains("[0, 0.5]"), "{e}");
        }
    }

    #[test]
    fn saved_configs_must_be_complete() {
        let e = RlConfig::from_toml("task = \"addition\"\n", "config.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml"), "{e}");
    }
}
