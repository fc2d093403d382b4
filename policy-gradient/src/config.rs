//! The typed training configuration: every field documented, a preset per environment, loading
//! from TOML with unknown or mistyped keys rejected by name, and `--set key=value` overrides.
//!
//! A run's configuration is assembled in layers, each overriding the one before:
//! 1. the preset of the environment ([`Config::preset`]),
//! 2. a TOML file (`--config FILE`), which may set any subset of the keys,
//! 3. `--set key=value` arguments, in order (the value is read as TOML; a bare word is a string).
//!
//! The result is saved as `config.toml` in the run directory and reloads to the same value.

use crate::error::{PgError, Result};
use serde::{Deserialize, Serialize};

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

/// Hidden-layer activation of the policy and value MLPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `tanh(x)`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
}

/// How the learning rates change over training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// Decays linearly from the configured rate to 0 at `total_env_steps`.
    Linear,
}

/// Everything that determines a training run. Saved as `config.toml` in every run directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Environment id, e.g. `"CartPole-v1"` (`pg envs` lists them).
    pub env_id: String,
    /// Seed of everything random: network initialisation and action sampling use a ChaCha8 RNG
    /// seeded with it; environment `i` of the vector env is seeded with `seed + i`.
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
    pub gamma: f32,
    /// Rewards are multiplied by this before returns and advantages are computed (the value
    /// function then fits smaller numbers); reported returns are always unscaled.
    pub reward_scale: f32,
    /// GAE's λ in `[0, 1]` (used by `gae` only): 0 is the one-step TD advantage, 1 the Monte-Carlo one.
    pub gae_lambda: f32,
    /// Normalise the advantages of each batch to mean 0 and standard deviation 1.
    pub normalize_advantages: bool,
    /// Widths of the hidden layers of the policy and value MLPs, e.g. `[64, 64]`.
    pub hidden_sizes: Vec<usize>,
    /// Hidden activation: `tanh` or `relu`.
    pub activation: Activation,
    /// Adam learning rate of the policy.
    pub policy_lr: f32,
    /// Adam learning rate of the value function.
    pub value_lr: f32,
    /// Gradient steps on the value function per epoch (full batch).
    pub value_iters: usize,
    /// Learning-rate schedule: `constant` or `linear` (decay to 0 at `total_env_steps`).
    pub lr_schedule: LrSchedule,
    /// Weight β of the entropy bonus: the policy loss is `−mean(Â log π) − β · mean(H[π])`.
    pub entropy_coef: f32,
    /// Clip the global L2 norm of each gradient to this value before the Adam step; 0 disables.
    pub max_grad_norm: f32,
    /// Normalise observations with running means and variances (kept in checkpoints).
    pub normalize_observations: bool,
    /// Initial log standard deviation of the Gaussian policy (continuous actions only).
    pub init_log_std: f32,
    /// Save a checkpoint every this many epochs (0: only the final one and on Ctrl-C).
    pub checkpoint_every: u64,
    /// Stop early once the moving average return over `solved_window` episodes reaches `solved_return`.
    pub stop_when_solved: bool,
    /// The average return that counts as solving the environment.
    pub solved_return: f64,
    /// Number of most recent finished episodes in the moving average.
    pub solved_window: usize,
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
    "policy_lr",
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
];

/// The environments that have a preset.
pub const PRESET_ENVS: &[&str] = &[
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
];

impl Config {
    /// The tuned preset for `env_id`; `pg train ENV_ID` uses it unchanged.
    ///
    /// ```
    /// let c = policy_gradient::config::Config::preset("CartPole-v1").unwrap();
    /// assert_eq!(c.total_env_steps, 300_000);
    /// assert!(policy_gradient::config::Config::preset("Pong").is_err());
    /// ```
    pub fn preset(env_id: &str) -> Result<Config> {
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
            policy_lr: 3e-3,
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
                policy_lr: 1e-2,
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
                policy_lr: 1e-2,
                value_iters: 10,
                normalize_observations: true,
                init_log_std: 0.0,
                checkpoint_every: 100,
                solved_return: 90.0,
                ..base
            },
            // A registered env without a preset (CartPole-v0) trains from a complete --config.
            _ if envs::spec(env_id).is_ok() => {
                return Err(PgError::BadConfigValue {
                    key: "env_id".into(),
                    origin: "the presets".into(),
                    message: format!(
                        "`{env_id}` has no training preset; presets exist for {}; \
                         pass a complete configuration with --config FILE",
                        PRESET_ENVS.join(", ")
                    ),
                });
            }
            _ => {
                return Err(PgError::UnknownEnv {
                    id: env_id.to_string(),
                    known: PRESET_ENVS.iter().map(|s| s.to_string()).collect(),
                });
            }
        };
        Ok(c)
    }

    /// Number of environment steps in one epoch.
    pub fn steps_per_epoch(&self) -> u64 {
        (self.num_envs * self.steps_per_env) as u64
    }

    /// Checks the ranges TOML types cannot express; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, message: String| PgError::BadConfigValue {
            key: key.to_string(),
            origin: origin.to_string(),
            message,
        };
        if !(self.gamma > 0.0 && self.gamma <= 1.0) {
            return Err(bad("gamma", format!("{} is outside (0, 1]", self.gamma)));
        }
        if !(0.0..=1.0).contains(&self.gae_lambda) {
            return Err(bad(
                "gae_lambda",
                format!("{} is outside [0, 1]", self.gae_lambda),
            ));
        }
        for (key, v) in [
            ("num_envs", self.num_envs),
            ("steps_per_env", self.steps_per_env),
        ] {
            if v == 0 {
                return Err(bad(key, "0; expected at least 1".into()));
            }
        }
        if self.solved_window == 0 {
            return Err(bad("solved_window", "0; expected at least 1".into()));
        }
        if self.hidden_sizes.contains(&0) {
            return Err(bad(
                "hidden_sizes",
                format!("{:?} holds a 0-wide layer", self.hidden_sizes),
            ));
        }
        for (key, v) in [
            ("policy_lr", self.policy_lr),
            ("value_lr", self.value_lr),
            ("entropy_coef", self.entropy_coef),
            ("max_grad_norm", self.max_grad_norm),
            ("reward_scale", self.reward_scale),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(key, format!("{v}; expected a finite number >= 0")));
            }
        }
        if !self.init_log_std.is_finite() {
            return Err(bad(
                "init_log_std",
                format!("{}; expected a finite number", self.init_log_std),
            ));
        }
        Ok(())
    }

    /// The configuration as TOML text (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a Config always serialises to TOML")
    }

    /// Parses a complete configuration (a saved `config.toml`); every key must be present.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        let table: toml::Table = parse_table(text, origin)?;
        let env_id = match table.get("env_id") {
            Some(toml::Value::String(s)) => s.clone(),
            _ => {
                return Err(PgError::BadConfigValue {
                    key: "env_id".into(),
                    origin: origin.into(),
                    message: "missing or not a string".into(),
                });
            }
        };
        let mut c = Config::preset(&env_id).or_else(|_| {
            // A config for an env without a preset: start from CartPole's and require the rest.
            Config::preset("CartPole-v1")
        })?;
        c.env_id = env_id;
        let c = c.overlay(&table, origin)?;
        for key in KEYS {
            if !table.contains_key(*key) {
                return Err(PgError::BadConfigValue {
                    key: key.to_string(),
                    origin: origin.into(),
                    message: "missing (a saved config lists every key)".into(),
                });
            }
        }
        Ok(c)
    }

    /// Overrides the keys present in `table`; unknown keys and wrongly typed values are errors
    /// naming the key.
    pub fn overlay(&self, table: &toml::Table, origin: &str) -> Result<Config> {
        let mut current = self.clone();
        for (key, value) in table {
            current = current.with_value(key, value.clone(), origin)?;
        }
        current.validate(origin)?;
        Ok(current)
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
        let mut current = self.clone();
        for arg in sets {
            let (key, raw) = arg
                .split_once('=')
                .ok_or_else(|| PgError::BadSetArgument(arg.clone()))?;
            let key = key.trim();
            let raw = raw.trim();
            let origin = format!("--set {arg}");
            let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
                Ok(mut t) => t.remove("v").expect("the key just parsed"),
                Err(_) => toml::Value::String(raw.to_string()),
            };
            current = current.with_value(key, value, &origin)?;
            current.validate(&origin)?;
        }
        Ok(current)
    }

    /// Replaces one key, checking the key exists and the value has the key's type.
    fn with_value(&self, key: &str, value: toml::Value, origin: &str) -> Result<Config> {
        if !KEYS.contains(&key) {
            return Err(PgError::UnknownConfigKey {
                key: key.to_string(),
                origin: origin.to_string(),
                known: KEYS.to_vec(),
            });
        }
        let mut table = toml::Table::try_from(self).expect("a Config always serialises to a table");
        table.insert(key.to_string(), value);
        toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| PgError::BadConfigValue {
                key: key.to_string(),
                origin: origin.to_string(),
                message: e.to_string(),
            })
    }

    /// Builds a run's configuration from the layers described in the module documentation.
    ///
    /// `env_id` comes from the command line; when `None` it is read from the file.
    pub fn assemble(
        env_id: Option<&str>,
        file: Option<(&str, &str)>,
        sets: &[String],
    ) -> Result<Config> {
        let table = match file {
            Some((text, origin)) => Some((parse_table(text, origin)?, origin)),
            None => None,
        };
        let file_env = table
            .as_ref()
            .and_then(|(t, _)| t.get("env_id"))
            .and_then(|v| v.as_str());
        let env = match (env_id, file_env) {
            (Some(e), _) => e.to_string(),
            (None, Some(e)) => e.to_string(),
            (None, None) => {
                return Err(PgError::BadConfigValue {
                    key: "env_id".into(),
                    origin: "the command line".into(),
                    message: "no environment given: pass ENV_ID or set env_id in --config".into(),
                });
            }
        };
        let mut c = Config::preset(&env)?;
        if let Some((mut t, origin)) = table {
            // The command-line env id wins over the file's.
            if env_id.is_some() {
                t.remove("env_id");
            }
            c = c.overlay(&t, origin)?;
        }
        c.apply_sets(sets)
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table> {
    toml::from_str::<toml::Table>(text).map_err(|e| PgError::ConfigSyntax {
        origin: origin.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let c = Config::assemble(
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
        let e = Config::assemble(Some("Acrobot-v1"), Some(("gamm = 0.95\n", "f.toml")), &[])
            .unwrap_err();
        assert!(
            matches!(&e, PgError::UnknownConfigKey { key, .. } if key == "gamm"),
            "{e}"
        );
        assert!(e.to_string().contains("f.toml"));
    }

    #[test]
    fn mistyped_value_names_the_key() {
        let e = Config::assemble(
            Some("CartPole-v1"),
            Some(("num_envs = \"eight\"\n", "f.toml")),
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(&e, PgError::BadConfigValue { key, .. } if key == "num_envs"),
            "{e}"
        );
        let e = Config::preset("CartPole-v1")
            .unwrap()
            .apply_sets(&["estimator=ppo".into()])
            .unwrap_err();
        assert!(
            matches!(&e, PgError::BadConfigValue { key, .. } if key == "estimator"),
            "{e}"
        );
        assert!(e.to_string().contains("ppo"), "{e}");
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
        let e = Config::assemble(Some("CartPole-v1"), Some(("gamma = = 1", "bad.toml")), &[])
            .unwrap_err();
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
                "policy_lr=1".into(),
            ])
            .unwrap();
        assert_eq!(c.hidden_sizes, vec![32, 16]);
        assert_eq!(c.seed, 6);
        assert!(c.normalize_observations);
        assert_eq!(c.policy_lr, 1.0);
        assert!(matches!(
            c.apply_sets(&["seed".into()]),
            Err(PgError::BadSetArgument(_))
        ));
    }

    #[test]
    fn env_from_file_when_not_on_command_line() {
        let c =
            Config::assemble(None, Some(("env_id = \"Pendulum-v1\"\n", "f.toml")), &[]).unwrap();
        assert_eq!(c, Config::preset("Pendulum-v1").unwrap());
        assert!(Config::assemble(None, None, &[]).is_err());
    }
}
