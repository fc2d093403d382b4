//! Sweeps: a grid of seeds and `--set` values, one run directory per point, and a summary table
//! per configuration. `pg sweep` runs the grid in parallel processes ([`crate::cli::sweep`]);
//! this module plans it and summarises it.
//!
//! ```text
//! OUT/lr=0.001/seed0/    one run directory per configuration and seed (a `pg train` run)
//! OUT/lr=0.001/seed1/
//! OUT/lr=0.003/seed0/
//! OUT/summary.md         the command and the summary table, written when every run has finished
//! ```
//!
//! A sweep can always be run again with the same command: each run is planned from what its
//! directory holds ([`Plan`]), so finished runs are skipped and stopped ones resumed.

use crate::checkpoint;
use crate::config::Config;
use crate::error::{PgError, Result};
use crate::metrics::Table;
use crate::run::config::{Layers, RunConfig};
use crate::run::dir::RunDir;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The largest number of runs one sweep may plan.
pub const MAX_RUNS: usize = 10_000;

/// Parses `--seeds`: `A..B` (A up to B − 1, as a Rust range) or a comma-separated list.
///
/// ```
/// use policy_gradient::run::sweep::parse_seeds;
/// assert_eq!(parse_seeds("0..3").unwrap(), vec![0, 1, 2]);
/// assert_eq!(parse_seeds("7,1").unwrap(), vec![7, 1]);
/// assert!(parse_seeds("3..3").is_err());
/// ```
pub fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let bad = |why: &str| {
        PgError::Other(
            format!("--seeds `{text}`: {why}; expected A..B (e.g. 0..10) or a list (e.g. 0,3,7)")
                .into(),
        )
    };
    let seeds: Vec<u64> = if let Some((a, b)) = text.split_once("..") {
        let a: u64 = a
            .trim()
            .parse()
            .map_err(|_| bad("not a range of integers"))?;
        let b: u64 = b
            .trim()
            .parse()
            .map_err(|_| bad("not a range of integers"))?;
        if b.saturating_sub(a) > MAX_RUNS as u64 {
            return Err(bad(&format!("more than {MAX_RUNS} seeds")));
        }
        (a..b).collect()
    } else {
        text.split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| bad(&format!("`{s}` is not an integer")))
            })
            .collect::<Result<_>>()?
    };
    if seeds.is_empty() {
        return Err(bad("no seeds"));
    }
    if (1..seeds.len()).any(|i| seeds[..i].contains(&seeds[i])) {
        return Err(bad("a seed is repeated"));
    }
    Ok(seeds)
}

/// Splits `--set key=v1,v2,...` into `key=v1`, `key=v2`, ... (commas inside brackets or quotes
/// belong to the value: `hidden_sizes=[32,32],[64,64]` is two values).
///
/// ```
/// use policy_gradient::run::sweep::split_set;
/// assert_eq!(split_set("lr=1e-3,3e-3").unwrap(), vec!["lr=1e-3", "lr=3e-3"]);
/// assert_eq!(split_set("hidden_sizes=[8,8],[16]").unwrap().len(), 2);
/// ```
pub fn split_set(arg: &str) -> Result<Vec<String>> {
    let (key, values) = arg
        .split_once('=')
        .ok_or_else(|| PgError::BadSetArgument(arg.to_string()))?;
    let key = key.trim();
    if key == crate::run::group::SEED_KEY {
        return Err(PgError::Other(
            format!("--set {arg}: a sweep sets the seed with --seeds").into(),
        ));
    }
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut out = Vec::new();
    for (i, ch) in values.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if depth == 0 && !quoted => {
                out.push(format!("{key}={}", values[start..i].trim()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(format!("{key}={}", values[start..].trim()));
    Ok(out)
}

/// The configurations of the grid: every combination of the `--set` values, in the order given
/// (the last `--set` varies fastest). Each is its list of `key=value` settings and its name: the
/// settings of the keys given several values, joined by `,` (`base` when no key varies).
///
/// ```
/// use policy_gradient::run::sweep::combinations;
/// let c = combinations(&["lr=1e-3,3e-3".into(), "num_envs=2".into()]).unwrap();
/// assert_eq!(c[1].0, "lr=3e-3");
/// assert_eq!(c[1].1, vec!["lr=3e-3".to_string(), "num_envs=2".into()]);
/// ```
pub fn combinations(sets: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let mut combos: Vec<(Vec<String>, Vec<String>)> = vec![(Vec::new(), Vec::new())];
    for arg in sets {
        let values = split_set(arg)?;
        let varies = values.len() > 1;
        combos = combos
            .iter()
            .flat_map(|(name, c)| {
                values.iter().map(move |v| {
                    let (mut name, mut c) = (name.clone(), c.clone());
                    if varies {
                        name.push(v.clone());
                    }
                    c.push(v.clone());
                    (name, c)
                })
            })
            .collect();
    }
    Ok(combos
        .into_iter()
        .map(|(name, c)| (combination_name(&name), c))
        .collect())
}

/// The directory name of a configuration: its varied settings joined by `,` (`base` with none).
pub fn combination_name(varied: &[String]) -> String {
    if varied.is_empty() {
        return "base".into();
    }
    varied.join(",").replace(['/', '\\'], "_")
}

/// One run of the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Index of its configuration in the grid.
    pub combination: usize,
    /// Its seed.
    pub seed: u64,
    /// The `--set` arguments of its configuration (without the seed).
    pub settings: Vec<String>,
    /// Its complete configuration.
    pub config: Config,
    /// Its run directory.
    pub dir: PathBuf,
}

/// What a run directory needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing there yet: start it.
    Start,
    /// A run of this configuration killed before its first checkpoint: start it again
    /// (`--force`, which a live process's lock still refuses).
    Restart,
    /// A checkpoint of an unfinished run: resume it.
    Resume,
    /// A finished run: skip it.
    Done,
}

/// Every job of the sweep, configurations in grid order and seeds in the order given.
pub fn jobs(
    env_id: &str,
    base: &Layers,
    sets: &[String],
    seeds: &[u64],
    out: &Path,
) -> Result<(Vec<String>, Vec<Job>)> {
    let combos = combinations(sets)?;
    if combos.len().saturating_mul(seeds.len()) > MAX_RUNS {
        return Err(PgError::Other(
            format!(
                "{} configurations × {} seeds is more than {MAX_RUNS} runs",
                combos.len(),
                seeds.len()
            )
            .into(),
        ));
    }
    let mut jobs = Vec::new();
    for (i, (name, settings)) in combos.iter().enumerate() {
        for &seed in seeds {
            let mut layers = base.clone();
            layers.sets.extend(settings.iter().cloned());
            layers.sets.push(format!("seed={seed}"));
            jobs.push(Job {
                combination: i,
                seed,
                settings: settings.clone(),
                config: Config::assemble(Some(env_id), &layers)?,
                dir: out.join(name).join(format!("seed{seed}")),
            });
        }
    }
    Ok((combos.into_iter().map(|c| c.0).collect(), jobs))
}

/// What `job`'s directory needs. A directory holding a run of another configuration is an
/// error (a different sweep wrote there), so a sweep never mixes two experiments.
pub fn plan(job: &Job) -> Result<Plan> {
    let Ok(run) = RunDir::open(&job.dir) else {
        return Ok(Plan::Start);
    };
    let saved: Config = run.config()?;
    if saved != job.config {
        return Err(PgError::Other(
            format!(
                "{} holds a run of another configuration than this sweep's; \
                 give the sweep another --out or remove that directory",
                job.dir.display()
            )
            .into(),
        ));
    }
    let Some(ckpt) = run.saved_checkpoint() else {
        return Ok(Plan::Restart);
    };
    Ok(if checkpoint::load(&ckpt, Some(&saved))?.finished() {
        Plan::Done
    } else {
        Plan::Resume
    })
}

/// What one finished run achieved (read back from its `metrics.csv`, wall clock left out so a
/// resumed run reports the same as one that never stopped).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The first env step count at which the moving average return reached the goal.
    pub solved_at: Option<u64>,
    /// The final moving average return.
    pub final_return: f64,
}

/// Reads the outcome of the run in `dir` against its config's `solved_return`.
pub fn outcome(dir: &Path) -> Result<Outcome> {
    let run = RunDir::open(dir)?;
    let c: Config = run.config()?;
    let p = run.metrics_path();
    let t = Table::read(&p)?;
    let steps = t.column("env_steps", &p)?;
    let avg = t.column("moving_avg_return", &p)?;
    Ok(Outcome {
        solved_at: crate::run::train::first_reaching(&steps, &avg, c.solved_return),
        final_return: avg.last().copied().unwrap_or(f64::NAN),
    })
}

/// The median of a non-empty sorted slice (the mean of the middle two for an even count).
fn median(sorted: &[u64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    }
}

/// The summary table (Markdown): per configuration, the seeds that reached the goal, the steps
/// to goal as median [min, max] over those seeds, and the final return as mean ± sd over all.
///
/// ```
/// use policy_gradient::run::sweep::{summary_table, Outcome};
/// let a = Outcome { solved_at: Some(100), final_return: 10.0 };
/// let b = Outcome { solved_at: None, final_return: 6.0 };
/// let t = summary_table(&[("lr=0.1".to_string(), vec![a, b])]);
/// assert!(t.contains("| lr=0.1 | 1/2 | 100 [100, 100] | 8.0 ± 2.0 |"), "{t}");
/// ```
pub fn summary_table(rows: &[(String, Vec<Outcome>)]) -> String {
    let mut s = String::from(
        "| configuration | seeds reaching the goal | env steps to goal: median [min, max] | final return: mean ± sd |\n|---|---|---|---|\n",
    );
    for (name, outcomes) in rows {
        let mut solved: Vec<u64> = outcomes.iter().filter_map(|o| o.solved_at).collect();
        solved.sort_unstable();
        let steps = match (solved.first(), solved.last()) {
            (Some(lo), Some(hi)) => format!("{} [{lo}, {hi}]", median(&solved)),
            _ => "-".into(),
        };
        let finals: Vec<f64> = outcomes.iter().map(|o| o.final_return).collect();
        let (mean, sd, _, _) = crate::metrics::summary(&finals);
        let _ = writeln!(
            s,
            "| {name} | {}/{} | {steps} | {mean:.1} ± {sd:.1} |",
            solved.len(),
            outcomes.len()
        );
    }
    s
}

/// The summary of a finished sweep: one row per configuration in grid order.
pub fn summarise(names: &[String], jobs: &[Job]) -> Result<String> {
    let rows = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let outcomes = jobs
                .iter()
                .filter(|j| j.combination == i)
                .map(|j| outcome(&j.dir))
                .collect::<Result<Vec<_>>>()?;
            Ok((name.clone(), outcomes))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(summary_table(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_sets_are_parsed_with_clear_errors() {
        assert!(parse_seeds("a..3").is_err());
        assert!(
            parse_seeds("1,1")
                .unwrap_err()
                .to_string()
                .contains("repeated")
        );
        assert!(split_set("seed=1,2").is_err());
        assert!(split_set("lr").is_err());
        assert_eq!(
            split_set("activation=\"tanh\",relu").unwrap(),
            vec!["activation=\"tanh\"", "activation=relu"]
        );
    }

    #[test]
    fn the_grid_is_the_product_of_the_sets() {
        let c = combinations(&["a=1,2".into(), "k=[1,2]".into(), "b=x,y,z".into()]).unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c[1].0, "a=1,b=y");
        assert_eq!(
            c[1].1,
            vec!["a=1".to_string(), "k=[1,2]".into(), "b=y".into()]
        );
        assert_eq!(combination_name(&["s=\"a/b\"".into()]), "s=\"a_b\"");
        assert_eq!(
            combinations(&[]).unwrap(),
            vec![("base".into(), Vec::new())]
        );
    }

    #[test]
    fn median_and_summary_of_unsolved() {
        assert_eq!(median(&[1, 3]), 2.0);
        assert_eq!(median(&[1, 3, 10]), 3.0);
        let t = summary_table(&[(
            "base".into(),
            vec![Outcome {
                solved_at: None,
                final_return: 1.0,
            }],
        )]);
        assert!(t.contains("| base | 0/1 | - | 1.0 ± 0.0 |"), "{t}");
    }
}
