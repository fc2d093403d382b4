//! The typed configurations of `pg lm pretrain` and `pg lm rl`, saved as `config.toml` in every
//! run directory.
//!
//! Each is assembled like `pg train`'s: the task's preset ([`PretrainConfig::preset`],
//! [`RlConfig::preset`]), then an optional TOML file, then `--set key=value` arguments in order
//! (the value read as TOML; a bare word is a string). Unknown keys and mistyped values are errors
//! that name the key.

use crate::config::{Activation, LrSchedule};
use crate::error::{PgError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Supervised pretraining: maximum likelihood on the task's (noisy) training text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// Token task id (`pg lm tasks` lists them), e.g. `"addition"`.
    pub task: String,
    /// Seed of the initialisation, the training text and the evaluation samples (ChaCha8).
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
    pub lr: f32,
    /// Learning-rate schedule: `constant`, or `linear` decay to 0 at the last step.
    pub lr_schedule: LrSchedule,
    /// Clip the global L2 norm of each gradient to this value; 0 disables.
    pub max_grad_norm: f32,
    /// Evaluate on held-out prompts every this many steps (and after the last).
    pub eval_every: u64,
    /// Number of held-out prompts per evaluation (the same fixed set every time).
    pub eval_prompts: usize,
}

/// The advantage estimator of `pg lm rl` (formulas in [`crate::lm::advantage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algo {
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

/// RL fine-tuning from a pretrained reference checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    /// Token task id; must be the task the reference was trained on.
    pub task: String,
    /// Seed of prompt and completion sampling (ChaCha8).
    pub seed: u64,
    /// The reference: a `pg lm pretrain` run directory or a checkpoint directory inside one. The
    /// policy starts as a copy of it and the KL penalty is measured against it, frozen.
    pub reference: String,
    /// The estimator: `reinforce`, `rloo` or `grpo`.
    pub algo: Algo,
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
    pub lr: f32,
    /// Learning-rate schedule: `constant`, or `linear` decay to 0 at the last step.
    pub lr_schedule: LrSchedule,
    /// Clip the global L2 norm of each gradient to this value; 0 disables.
    pub max_grad_norm: f32,
    /// Sampling temperature of the training completions (1 samples the policy itself, which the
    /// policy gradient assumes).
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
}

/// The tasks that have presets.
pub const PRESET_TASKS: &[&str] = &["addition", "reviews"];

fn unknown_task(task: &str) -> PgError {
    PgError::BadConfigValue {
        key: "task".into(),
        origin: "the command line".into(),
        message: format!(
            "unknown token task `{task}`; known: {}",
            PRESET_TASKS.join(", ")
        ),
    }
}

impl PretrainConfig {
    /// The preset of a task; `pg lm pretrain TASK` uses it unchanged.
    ///
    /// ```
    /// let c = policy_gradient::lm::config::PretrainConfig::preset("addition").unwrap();
    /// assert_eq!(c.context, 10);
    /// ```
    pub fn preset(task: &str) -> Result<Self> {
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
        };
        match task {
            "addition" => Ok(base),
            "reviews" => Ok(Self {
                context: 8,
                hidden_sizes: vec![128, 128],
                steps: 2000,
                batch_size: 64,
                ..base
            }),
            _ => Err(unknown_task(task)),
        }
    }

    /// Checks ranges TOML types cannot express; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        for (key, v) in [
            ("context", self.context),
            ("embed_dim", self.embed_dim),
            ("batch_size", self.batch_size),
            ("eval_prompts", self.eval_prompts),
        ] {
            positive(key, v as f64, origin)?;
        }
        for (key, v) in [("steps", self.steps), ("eval_every", self.eval_every)] {
            positive(key, v as f64, origin)?;
        }
        if self.hidden_sizes.contains(&0) {
            return Err(bad(
                "hidden_sizes",
                origin,
                format!("{:?} holds a 0-wide layer", self.hidden_sizes),
            ));
        }
        non_negative("lr", self.lr as f64, origin)?;
        non_negative("max_grad_norm", self.max_grad_norm as f64, origin)
    }
}

impl RlConfig {
    /// The preset of a task; `pg lm rl TASK --reference DIR` uses it with the given reference.
    ///
    /// ```
    /// use policy_gradient::lm::config::{Algo, RlConfig};
    /// let c = RlConfig::preset("addition").unwrap();
    /// assert_eq!(c.algo, Algo::Rloo);
    /// ```
    pub fn preset(task: &str) -> Result<Self> {
        let base = Self {
            task: task.to_string(),
            seed: 0,
            reference: format!("runs/lm-pretrain-{task}-seed0"),
            algo: Algo::Rloo,
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
        };
        match task {
            "addition" => Ok(base),
            // The KL penalty is what keeps the reviews honest (see the crate README's table).
            "reviews" => Ok(Self {
                kl: KlMode::K1Reward,
                kl_coef: 0.5,
                prompts_per_step: 32,
                total_samples: 60_000,
                ..base
            }),
            _ => Err(unknown_task(task)),
        }
    }

    /// Completions sampled per step.
    pub fn samples_per_step(&self) -> usize {
        self.prompts_per_step * self.samples_per_prompt
    }

    /// Checks ranges TOML types cannot express; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        positive("prompts_per_step", self.prompts_per_step as f64, origin)?;
        positive("total_samples", self.total_samples as f64, origin)?;
        positive("eval_every", self.eval_every as f64, origin)?;
        positive("eval_prompts", self.eval_prompts as f64, origin)?;
        let min_group = if self.algo == Algo::Reinforce { 1 } else { 2 };
        if self.samples_per_prompt < min_group {
            return Err(bad(
                "samples_per_prompt",
                origin,
                format!(
                    "{}; {:?} needs at least {min_group} completions per prompt",
                    self.samples_per_prompt, self.algo
                ),
            ));
        }
        non_negative("lr", self.lr as f64, origin)?;
        non_negative("max_grad_norm", self.max_grad_norm as f64, origin)?;
        non_negative("kl_coef", self.kl_coef, origin)?;
        non_negative("grpo_eps", self.grpo_eps, origin)?;
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(bad(
                "temperature",
                origin,
                format!("{}; expected a finite number > 0", self.temperature),
            ));
        }
        if self.reference.is_empty() {
            return Err(bad(
                "reference",
                origin,
                "empty; expected a pretrain run directory".into(),
            ));
        }
        Ok(())
    }
}

fn bad(key: &str, origin: &str, message: String) -> PgError {
    PgError::BadConfigValue {
        key: key.to_string(),
        origin: origin.to_string(),
        message,
    }
}

fn positive(key: &str, v: f64, origin: &str) -> Result<()> {
    if v >= 1.0 {
        Ok(())
    } else {
        Err(bad(key, origin, format!("{v}; expected at least 1")))
    }
}

fn non_negative(key: &str, v: f64, origin: &str) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(bad(
            key,
            origin,
            format!("{v}; expected a finite number >= 0"),
        ))
    }
}

/// What both configurations share: TOML in and out, overlays and `--set`.
pub trait LmConfig: Serialize + DeserializeOwned + Clone {
    /// The keys, in declaration order (a test checks them against the struct).
    const KEYS: &'static [&'static str];

    /// Checks ranges; the error names the key.
    fn check(&self, origin: &str) -> Result<()>;

    /// The configuration as TOML text (what `config.toml` holds).
    fn to_toml(&self) -> String {
        toml::to_string(self).expect("an LM config always serialises to TOML")
    }

    /// Parses a complete configuration (a saved `config.toml`): every key must be present.
    fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let c: Self = toml::from_str(text).map_err(|e| PgError::ConfigSyntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        c.check(origin)?;
        Ok(c)
    }

    /// Overrides the keys present in TOML `text` (a `--config` file holding any subset of keys).
    fn overlay_toml(&self, text: &str, origin: &str) -> Result<Self> {
        let table = toml::from_str::<toml::Table>(text).map_err(|e| PgError::ConfigSyntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut current = self.clone();
        for (key, value) in table {
            current = current.with_value(&key, value, origin)?;
        }
        current.check(origin)?;
        Ok(current)
    }

    /// Applies `--set key=value` arguments in order.
    ///
    /// ```
    /// use policy_gradient::lm::config::{LmConfig, RlConfig, Algo};
    /// let c = RlConfig::preset("addition").unwrap();
    /// let c = c.apply_sets(&["algo=grpo".into(), "lr=0.0005".into()]).unwrap();
    /// assert_eq!((c.algo, c.lr), (Algo::Grpo, 0.0005));
    /// assert!(c.apply_sets(&["lrr=1".into()]).unwrap_err().to_string().contains("`lrr`"));
    /// ```
    fn apply_sets(&self, sets: &[String]) -> Result<Self> {
        let mut current = self.clone();
        for arg in sets {
            let (key, raw) = arg
                .split_once('=')
                .ok_or_else(|| PgError::BadSetArgument(arg.clone()))?;
            let (key, raw) = (key.trim(), raw.trim());
            let origin = format!("--set {arg}");
            let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
                Ok(mut t) => t.remove("v").expect("the key just parsed"),
                Err(_) => toml::Value::String(raw.to_string()),
            };
            current = current.with_value(key, value, &origin)?;
            current.check(&origin)?;
        }
        Ok(current)
    }

    /// Replaces one key, checking that it exists and that the value has the key's type.
    fn with_value(&self, key: &str, value: toml::Value, origin: &str) -> Result<Self> {
        if !Self::KEYS.contains(&key) {
            return Err(PgError::UnknownConfigKey {
                key: key.to_string(),
                origin: origin.to_string(),
                known: Self::KEYS.to_vec(),
            });
        }
        let mut table = toml::Table::try_from(self).expect("an LM config serialises to a table");
        table.insert(key.to_string(), value);
        toml::Value::Table(table)
            .try_into::<Self>()
            .map_err(|e| bad(key, origin, e.to_string()))
    }
}

impl LmConfig for PretrainConfig {
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
    ];

    fn check(&self, origin: &str) -> Result<()> {
        self.validate(origin)
    }
}

impl LmConfig for RlConfig {
    const KEYS: &'static [&'static str] = &[
        "task",
        "seed",
        "reference",
        "algo",
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
    ];

    fn check(&self, origin: &str) -> Result<()> {
        self.validate(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of<C: LmConfig>(c: &C) -> Vec<String> {
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
        }
        let e = PretrainConfig::preset("poems").unwrap_err().to_string();
        assert!(
            e.contains("`poems`") && e.contains("addition, reviews"),
            "{e}"
        );
    }

    #[test]
    fn sets_are_typed_and_named() {
        let c = RlConfig::preset("addition").unwrap();
        let c2 = c
            .apply_sets(&[
                "kl=k3_loss".into(),
                "kl_coef=0.05".into(),
                "baseline=none".into(),
            ])
            .unwrap();
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
        let p2 = p.overlay_toml("steps = 10\nlr = 0.01\n", "f.toml").unwrap();
        assert_eq!((p2.steps, p2.lr, p2.context), (10, 0.01, p.context));
        let e = p
            .overlay_toml("stepz = 10\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`stepz`") && e.contains("f.toml"), "{e}");
        assert!(p.overlay_toml("steps = [", "f.toml").is_err());
    }

    #[test]
    fn saved_configs_must_be_complete() {
        let e = RlConfig::from_toml("task = \"addition\"\n", "config.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml"), "{e}");
    }
}
