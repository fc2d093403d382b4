//! `pg envs`: the registered environments with their spaces, time limits, Gymnasium's reward
//! thresholds, and the preset `pg train` uses for each.

use crate::config::Config;
use crate::error::Result;
use crate::run::config::RunConfig;
use clap::Args;
use envs::Space;

/// Arguments of `pg envs` (none).
#[derive(Debug, Args)]
pub struct EnvsArgs {}

fn describe(s: &Space) -> String {
    match s {
        Space::Discrete { n } => format!("Discrete({n})"),
        Space::Box { low, high } => {
            let same = |v: &[f32]| v.iter().all(|x| *x == v[0]);
            if same(low) && same(high) {
                format!("Box({}, [{}, {}])", low.len(), low[0], high[0])
            } else {
                format!("Box({})", low.len())
            }
        }
    }
}

/// Runs `pg envs`.
pub fn run(_args: EnvsArgs) -> Result<()> {
    println!(
        "{:<26} {:<20} {:<16} {:>6} {:>10}  default preset (estimator, goal, env steps); --preset names",
        "id", "observation", "action", "limit", "threshold"
    );
    for spec in envs::specs() {
        let env = spec.make();
        let threshold = spec
            .reward_threshold
            .map_or("-".to_string(), |t| t.to_string());
        let preset = match Config::preset(spec.id) {
            Ok(c) => format!(
                "{}, {}, {}; {}",
                // The estimator as a config file spells it (`gae`, `reward_to_go`, ...).
                toml::Value::try_from(c.estimator)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                c.solved_return,
                c.total_env_steps,
                Config::preset_names(spec.id).unwrap_or_default().join(", ")
            ),
            Err(_) => "none".into(),
        };
        println!(
            "{:<26} {:<20} {:<16} {:>6} {:>10}  {preset}",
            spec.id,
            describe(&env.observation_space()),
            describe(&env.action_space()),
            spec.max_episode_steps,
            threshold
        );
    }
    Ok(())
}
