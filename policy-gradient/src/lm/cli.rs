//! `pg lm ...`: the language-model subcommands.
//!
//! ```text
//! pg lm tasks
//! pg lm pretrain TASK [--preset NAME] [--seed N] [--out DIR] [--config FILE] [--set key=value]...
//!                     [--force]
//! pg lm pretrain --resume DIR
//! pg lm rl TASK [--estimator reinforce|rloo|grpo] [--baseline none|batch_mean] [--reference DIR]
//!               [--kl none|k1_reward|k3_loss] [--kl-coef B] [--reward task|model:DIR]
//!               [--seed N] [--out DIR] [--set k=v]...
//! pg lm rl --resume DIR
//! pg lm reward TASK [--policy DIR] [--label-noise P] [--seed N] [--out DIR] [--set k=v]...
//! pg lm reward --resume DIR
//! pg lm sample CHECKPOINT [--prompt TEXT]... [-n N] [--temperature T] [--seed N]
//!                        [--reward model:DIR]
//! pg lm score REWARD_MODEL --prompt TEXT --completion TEXT [--prompt TEXT --completion TEXT]...
//! pg lm plot DIR... [--column heldout_accuracy] [--xaxis samples|kl] [--group-by KEY]
//!                   [--label TEXT]... [--out curve.svg]
//! pg lm gradvar CHECKPOINT [--batches 50] [--prompts 64] [--samples 8]
//! ```

use super::checkpoint;
use super::config::{KlMode, PretrainConfig, RewardConfig, RewardSource, RlConfig};
use super::eval::Evaluation;
use super::generate::Completion;
use super::pretrain::pretrain;
use super::reward::RewardModel;
use super::reward::train_reward;
use super::rl::{algo_name, rl};
use super::run::{
    SAMPLES_AXIS, load_curve, load_curve_along, make_task, plottable_columns, stream_rng,
};
use crate::error::{PgError, Result};
use crate::plot::{KL_AXIS, PlotSpec, Series, in_order_of_x, render_groups};
use crate::run::args::RunArgs;
use crate::run::bounds;
use crate::run::config::{RunConfig, bad_value, check_size};
use crate::run::dir::RunDir;
use crate::run::group::{GroupBy, group_runs, read_config_table, relabel};
use crate::run::signal;
use clap::{Args, Subcommand};
use envs::tokens::{EOS, Split, Status, TASK_IDS, Token, TokenTask};
use std::path::PathBuf;

/// The `pg lm` family.
#[derive(Debug, Subcommand)]
pub enum LmCommand {
    /// List the token tasks.
    Tasks,
    /// Supervised pretraining on a task's (noisy) training text: produces the reference model.
    Pretrain(PretrainArgs),
    /// RL fine-tuning of a pretrained model with REINFORCE, RLOO or GRPO.
    Rl(RlArgs),
    /// Train a reward model on preferences between a policy's completions (labelled by the
    /// task's gold judge, with label noise).
    Reward(RewardArgs),
    /// Sample completions from a checkpoint (or a run directory).
    Sample(SampleArgs),
    /// Score hand-written completions with a reward model, beside the task's reward and gold
    /// judge.
    Score(ScoreArgs),
    /// Plot a metrics column (mean ± sd across the seeds of each group of runs) against sampled
    /// sequences or the KL to the reference, as SVG.
    Plot(LmPlotArgs),
    /// Measure each estimator's gradient mean and variance at a checkpoint (paired samples).
    Gradvar(GradvarArgs),
}

/// Arguments of `pg lm gradvar`.
#[derive(Debug, Args)]
pub struct GradvarArgs {
    /// A checkpoint directory or a `pg lm` run directory.
    pub checkpoint: PathBuf,
    /// Independent batches to draw.
    #[arg(long, default_value_t = 50)]
    pub batches: usize,
    /// Prompts per batch.
    #[arg(long, default_value_t = 64)]
    pub prompts: usize,
    /// Completions per prompt.
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Seed of the batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Subtract this constant from every reward: plain REINFORCE then uses it as a fixed
    /// baseline, and the other estimators are unchanged (they are invariant to it).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub shift: f64,
}

/// Arguments of `pg lm pretrain`.
#[derive(Debug, Args)]
pub struct PretrainArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
}

/// Arguments of `pg lm rl`: the run's options and shortcuts for the keys set most often.
#[derive(Debug, Args)]
pub struct RlArgs {
    /// The estimator: reinforce, rloo or grpo (`--algo` is the old name of this flag).
    #[arg(long, visible_alias = "algo", conflicts_with = "resume")]
    pub estimator: Option<String>,
    /// REINFORCE's baseline: none or batch_mean.
    #[arg(long, conflicts_with = "resume")]
    pub baseline: Option<String>,
    /// The pretrained reference: a `pg lm pretrain` run directory or checkpoint.
    #[arg(long, conflicts_with = "resume")]
    pub reference: Option<String>,
    /// KL penalty: none, k1_reward or k3_loss.
    #[arg(long, conflicts_with = "resume")]
    pub kl: Option<String>,
    /// KL coefficient β.
    #[arg(long, conflicts_with = "resume")]
    pub kl_coef: Option<f64>,
    /// What to optimise: `task` (the task's reward) or `model:DIR` (a `pg lm reward` run).
    #[arg(long, conflicts_with = "resume")]
    pub reward: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
}

/// Arguments of `pg lm reward`.
#[derive(Debug, Args)]
pub struct RewardArgs {
    /// The policy whose completions are compared: a `pg lm pretrain` run directory or checkpoint.
    #[arg(long, conflicts_with = "resume")]
    pub policy: Option<String>,
    /// Probability of flipping each training label, in [0, 0.5].
    #[arg(long, conflicts_with = "resume", allow_hyphen_values = true)]
    pub label_noise: Option<f64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
}

/// Arguments of `pg lm sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A checkpoint directory or a `pg lm` run directory.
    pub checkpoint: PathBuf,
    /// Prompt text (repeatable); default: held-out prompts of the model's task.
    #[arg(long)]
    pub prompt: Vec<String>,
    /// Number of completions (per prompt when prompts are given).
    #[arg(short = 'n', long, default_value_t = 10)]
    pub n: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also score each completion with a reward model (`model:DIR`, a `pg lm reward` run): the
    /// line gains the gold judge's score and the model's (`proxy`).
    #[arg(long, value_name = "model:DIR")]
    pub reward: Option<String>,
}

/// Arguments of `pg lm score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A `pg lm reward` run directory (or its checkpoint file).
    pub reward_model: PathBuf,
    /// Prompt text (repeatable; the i-th prompt goes with the i-th completion).
    #[arg(long, required = true)]
    pub prompt: Vec<String>,
    /// Completion text, scored as a finished reply: the end token is appended.
    #[arg(long, required = true)]
    pub completion: Vec<String>,
}

/// Arguments of `pg lm plot`.
#[derive(Debug, Args)]
pub struct LmPlotArgs {
    /// `pg lm` run directories (runs differing only in `seed` form one curve, mean ± sd).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The metrics.csv column to plot.
    #[arg(long, default_value = "heldout_accuracy")]
    pub column: String,
    /// The x axis: sampled sequences, or the KL to the reference (RL runs).
    #[arg(long, value_enum, default_value = "samples")]
    pub xaxis: LmXAxis,
    /// With `--xaxis kl`: average this many consecutive rows into one point (the per-step KL
    /// and the column are noisy).
    #[arg(long, default_value_t = 10)]
    pub smooth: usize,
    /// Group runs by the value of this config key instead of by whole configuration.
    #[arg(long, value_name = "KEY")]
    pub group_by: Option<String>,
    /// Legend text of each group, in the order of their first run (repeat once per group).
    #[arg(long = "label", value_name = "TEXT")]
    pub labels: Vec<String>,
    /// Where to write the SVG.
    #[arg(long, default_value = "curve.svg")]
    pub out: PathBuf,
    /// Title (default: the column).
    #[arg(long)]
    pub title: Option<String>,
}

/// The x axis of `pg lm plot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LmXAxis {
    /// Sampled sequences (the `samples` column).
    Samples,
    /// The KL to the reference (the `kl` column), points in order of KL.
    Kl,
}

/// Runs a `pg lm` subcommand.
pub fn run(cmd: LmCommand) -> Result<()> {
    match cmd {
        LmCommand::Tasks => {
            for id in TASK_IDS {
                let t = make_task(id)?;
                let presets =
                    PretrainConfig::preset_names(id).map_or("none".into(), |n| n.join(", "));
                println!(
                    "{id:<10} vocab {:>2}  max completion {:>2}  success = {}  presets: {presets}\n           {}",
                    t.vocab().len(),
                    t.max_completion_len(),
                    t.success_name(),
                    t.describe()
                );
            }
            Ok(())
        }
        LmCommand::Pretrain(a) => {
            let c: PretrainConfig = config_of(&a.run, &[])?;
            let out = a
                .run
                .dir(|| PathBuf::from(format!("runs/lm-pretrain-{}-seed{}", c.task, c.seed)));
            signal::install();
            let (run, e) = pretrain(&c, &out, a.run.options())?;
            report(&format!("pretrained {}", c.task), &e, &run);
            Ok(())
        }
        LmCommand::Rl(a) => {
            let mut sets = Vec::new();
            for (key, v) in [
                ("estimator", a.estimator.clone()),
                ("baseline", a.baseline.clone()),
                ("reference", a.reference.clone().map(|r| format!("{r:?}"))),
                ("kl", a.kl.clone()),
                ("kl_coef", a.kl_coef.map(|b| b.to_string())),
                ("reward", a.reward.clone().map(|r| format!("{r:?}"))),
            ] {
                if let Some(v) = v {
                    sets.push(format!("{key}={v}"));
                }
            }
            let c: RlConfig = config_of(&a.run, &sets)?;
            let out = a.run.dir(|| {
                PathBuf::from(format!(
                    "runs/lm-rl-{}-{}-kl{}-seed{}",
                    c.task,
                    algo_name(&c),
                    if c.kl == KlMode::None { 0.0 } else { c.kl_coef },
                    c.seed
                ))
            });
            signal::install();
            let (run, e) = rl(&c, &out, a.run.options())?;
            report(&format!("{} on {}", algo_name(&c), c.task), &e, &run);
            Ok(())
        }
        LmCommand::Reward(a) => {
            let mut sets = Vec::new();
            if let Some(p) = &a.policy {
                sets.push(format!("policy={p:?}"));
            }
            if let Some(n) = a.label_noise {
                sets.push(format!("label_noise={n}"));
            }
            let c: RewardConfig = config_of(&a.run, &sets)?;
            let out = a.run.dir(|| {
                PathBuf::from(format!(
                    "runs/lm-reward-{}-noise{}-seed{}",
                    c.task, c.label_noise, c.seed
                ))
            });
            signal::install();
            let (run, e) = train_reward(&c, &out, a.run.options())?;
            println!(
                "reward model on {}: held-out preference accuracy {:.3} (loss {:.4}); run in {}",
                c.task,
                e.accuracy,
                e.loss,
                run.root().display()
            );
            Ok(())
        }
        LmCommand::Sample(a) => sample(a),
        LmCommand::Score(a) => score(a),
        LmCommand::Plot(a) => plot(a),
        LmCommand::Gradvar(a) => gradvar(a),
    }
}

/// Prints the final evaluation of a training run.
fn report(what: &str, e: &Evaluation, run: &RunDir) {
    println!(
        "{what}: held-out accuracy {:.3} sampled, {:.3} greedy; mean reward {:.3}; run in {}",
        e.accuracy,
        e.greedy_accuracy,
        e.reward,
        run.root().display()
    );
}

/// The configuration of the run: the one saved in the run directory with `--resume`, else
/// assembled from the preset, the file, `extra_sets` (the command's shortcuts) and `--set`.
fn config_of<C: RunConfig>(run: &RunArgs, extra_sets: &[String]) -> Result<C> {
    match &run.resume {
        Some(dir) => RunDir::open(dir)?.config(),
        None => C::assemble(run.subject.as_deref(), &run.layers(extra_sets)?),
    }
}

fn sample(a: SampleArgs) -> Result<()> {
    if !(a.temperature >= 0.0 && a.temperature.is_finite()) {
        return Err(bad_value(
            "temperature",
            "--temperature",
            format!("{}; expected a finite number >= 0", a.temperature),
        ));
    }
    let prompts_given = a.prompt.len().max(1) as u64;
    check_size(
        "-n (times the prompts given)",
        (a.n as u64).saturating_mul(prompts_given),
        1,
        bounds::SAMPLES,
        "the command line",
    )?;
    let policy = checkpoint::load(&a.checkpoint)?;
    let task = make_task(policy.task())?;
    let judge = match &a.reward {
        Some(spec) => Some(reward_model_of(spec, policy.task())?),
        None => None,
    };
    let v = task.vocab();
    let prompts: Vec<Vec<usize>> = if a.prompt.is_empty() {
        let mut rng = stream_rng(a.seed, 3);
        (0..a.n)
            .map(|_| task.sample_prompt(Split::HeldOut, &mut rng))
            .collect()
    } else {
        let mut ps = Vec::new();
        for p in &a.prompt {
            let tokens = v.encode(p).map_err(|e| PgError::Other(Box::new(e)))?;
            ps.extend(std::iter::repeat_n(tokens, a.n));
        }
        ps
    };
    let origin = format!("the model in {}", a.checkpoint.display());
    policy.check_prompts_fit(&*task, &prompts, &origin)?;
    if let Some((rm, origin)) = &judge {
        rm.check_fits(&*task, &prompts, origin)?;
    }
    let mut rng = stream_rng(a.seed, 4);
    let out = policy.generate(&*task, &prompts, a.temperature, &mut rng);
    match &judge {
        Some((rm, _)) => print_scored(&out, &*task, rm),
        None => out.iter().for_each(|c| println!("{}", c.describe(&*task))),
    }
    Ok(())
}

/// The reward model named by `spec` (`model:DIR`), which must score texts of `task`; with the
/// phrase that names it in errors.
fn reward_model_of(spec: &str, task: &str) -> Result<(RewardModel, String)> {
    let RewardSource::Model(dir) = RewardSource::parse(spec, "--reward")? else {
        return Err(bad_value(
            "reward",
            "--reward",
            format!("`{spec}`; expected model:DIR, a pg lm reward run"),
        ));
    };
    let rm = super::reward::checkpoint::load(std::path::Path::new(&dir))?;
    let origin = format!("the reward model in {dir}");
    if rm.task() != task {
        return Err(bad_value(
            "reward",
            "--reward",
            format!(
                "{origin} scores texts of task `{}`, not `{task}`",
                rm.task()
            ),
        ));
    }
    Ok((rm, origin))
}

/// Each completion's line (`prompt -> completion  [ok|--] reward r`) with the gold judge's score
/// and the reward model's: `gold g  proxy p`.
fn print_scored(out: &[Completion], task: &dyn TokenTask, rm: &RewardModel) {
    let proxy = rm.score(out.iter().map(|c| (&c.prompt[..], &c.completion[..])));
    for (c, p) in out.iter().zip(proxy) {
        let gold = task.gold(&c.prompt, &c.completion);
        println!("{}  gold {gold:.3}  proxy {p:.3}", c.describe(task));
    }
}

fn score(a: ScoreArgs) -> Result<()> {
    if a.prompt.len() != a.completion.len() {
        return Err(bad_value(
            "completion",
            "the command line",
            format!(
                "{} --completion for {} --prompt; expected one completion per prompt",
                a.completion.len(),
                a.prompt.len()
            ),
        ));
    }
    check_size(
        "--prompt",
        a.prompt.len() as u64,
        1,
        bounds::SAMPLES,
        "the command line",
    )?;
    let rm = super::reward::checkpoint::load(&a.reward_model)?;
    let task = make_task(rm.task())?;
    let v = task.vocab();
    let encode = |text: &str| v.encode(text).map_err(|e| PgError::Other(Box::new(e)));
    let mut out = Vec::with_capacity(a.prompt.len());
    for (p, c) in a.prompt.iter().zip(&a.completion) {
        let mut completion = encode(c)?;
        completion.push(EOS);
        if completion.len() > task.max_completion_len() {
            return Err(bad_value(
                "completion",
                "the command line",
                format!(
                    "`{c}` is {} tokens with the end token; task `{}` completes in at most {}",
                    completion.len(),
                    rm.task(),
                    task.max_completion_len()
                ),
            ));
        }
        out.push(Completion {
            prompt: encode(p)?,
            completion,
            status: Status::Terminated,
        });
    }
    let prompts: Vec<Vec<Token>> = out.iter().map(|c| c.prompt.clone()).collect();
    let origin = format!("the reward model in {}", a.reward_model.display());
    rm.check_fits(&*task, &prompts, &origin)?;
    print_scored(&out, &*task, &rm);
    Ok(())
}

fn gradvar(a: GradvarArgs) -> Result<()> {
    let origin = "the command line";
    check_size(
        "--batches",
        a.batches as u64,
        2,
        bounds::GRADVAR_BATCHES,
        origin,
    )?;
    check_size(
        "--samples",
        a.samples as u64,
        2,
        bounds::SEQUENCES_PER_STEP,
        origin,
    )?;
    if !a.shift.is_finite() {
        return Err(bad_value(
            "--shift",
            origin,
            format!("{}; expected a finite number", a.shift),
        ));
    }
    let policy = checkpoint::load(&a.checkpoint)?;
    let task = make_task(policy.task())?;
    // The prompts and samples per batch are checked as `pg lm rl` checks its own.
    let cfg = RlConfig {
        prompts_per_step: a.prompts,
        samples_per_prompt: a.samples,
        ..RlConfig::preset(policy.task())?
    };
    cfg.validate("--prompts and --samples")?;
    println!(
        "{} batches of {} x {} completions at {}, rewards shifted by {}",
        a.batches,
        a.prompts,
        a.samples,
        a.checkpoint.display(),
        -a.shift
    );
    println!(
        "{:<16} {:>14} {:>14} {:>10}",
        "estimator", "|E grad|^2", "tr Cov(grad)", "SNR"
    );
    let reward = |c: &super::generate::Completion| task.reward(&c.prompt, &c.completion) - a.shift;
    for s in super::gradvar::measure_with(&policy, &*task, &cfg, a.batches, a.seed, reward)? {
        println!(
            "{:<16} {:>14.6e} {:>14.6e} {:>10.4}",
            s.estimator, s.mean_sq_norm, s.total_variance, s.signal_to_noise
        );
    }
    Ok(())
}

fn plot(a: LmPlotArgs) -> Result<()> {
    let reward_columns = &super::reward::train::COLUMNS[2..];
    if !plottable_columns().contains(&a.column.as_str())
        && !reward_columns.contains(&a.column.as_str())
    {
        return Err(bad_value(
            "column",
            "--column",
            format!(
                "`{}` is not a metrics column; expected one of {} (or, for pg lm reward runs, {})",
                a.column,
                plottable_columns().join(", "),
                reward_columns.join(", ")
            ),
        ));
    }
    check_size(
        "--smooth",
        a.smooth as u64,
        1,
        bounds::SAMPLES,
        "the command line",
    )?;
    let configs = a
        .runs
        .iter()
        .map(|d| Ok((d.clone(), read_config_table(d)?)))
        .collect::<Result<Vec<_>>>()?;
    let by = match &a.group_by {
        Some(k) => GroupBy::Key(k.clone()),
        None => GroupBy::Config,
    };
    let mut groups = group_runs(&configs, &by)?;
    relabel(&mut groups, &a.labels)?;
    let series = groups
        .iter()
        .map(|g| {
            let curves = g
                .dirs
                .iter()
                .map(|d| match a.xaxis {
                    LmXAxis::Samples => load_curve(d, &a.column),
                    LmXAxis::Kl => Ok(in_order_of_x(
                        &load_curve_along(d, "kl", &a.column)?,
                        a.smooth,
                    )),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Series {
                label: g.label.clone(),
                curves,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // A `pg lm reward` run counts preference pairs where the others count sampled sequences.
    let reward_run = configs[0].1.contains_key("train_pairs");
    let x_label = match a.xaxis {
        LmXAxis::Samples if reward_run => super::reward::train::PAIRS_AXIS,
        LmXAxis::Samples => SAMPLES_AXIS,
        LmXAxis::Kl => KL_AXIS,
    };
    let svg = render_groups(
        &series,
        &PlotSpec {
            title: a.title.unwrap_or_else(|| a.column.replace('_', " ")),
            x_label: x_label.to_string(),
            y_label: a.column.replace('_', " "),
            threshold: None,
        },
    );
    std::fs::write(&a.out, svg).map_err(|e| PgError::io(&a.out, e))?;
    println!(
        "wrote {} ({} runs in {} group{})",
        a.out.display(),
        a.runs.len(),
        series.len(),
        if series.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Parses `pg lm ...` as the binary would.
    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(subcommand)]
        lm: LmCommand,
    }

    fn lm(args: &[&str]) -> Result<()> {
        let cli = TestCli::try_parse_from(std::iter::once("lm").chain(args.iter().copied()))
            .expect("the arguments parse");
        run(cli.lm)
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let e = lm(&["pretrain", "poems"]).unwrap_err().to_string();
        assert!(
            e.contains("`poems`") && e.contains("addition, reviews"),
            "{e}"
        );
        let e = lm(&["rl", "addition", "--reference", "/nonexistent/run"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/run"), "{e}");
        let e = lm(&["rl", "addition", "--algo", "ppo"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`estimator`"), "{e}");
        let e = lm(&["pretrain", "addition", "--set", "context=0"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`context`"), "{e}");
    }

    #[test]
    fn pretrain_sample_and_plot_from_the_command_line() {
        let dir = std::env::temp_dir().join(format!("pg-lm-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("run").display().to_string();
        let tiny = [
            "pretrain",
            "reviews",
            "--out",
            &out,
            "--quiet",
            "--set",
            "steps=4",
            "--set",
            "batch_size=4",
            "--set",
            "eval_every=2",
            "--set",
            "eval_prompts=2",
            "--set",
            "hidden_sizes=[8]",
        ];
        lm(&tiny).unwrap();
        let e = lm(&tiny).unwrap_err().to_string();
        assert!(e.contains("already holds a run"), "{e}");
        // A finished run resumed does no more steps and keeps its metrics.
        let csv = std::fs::read_to_string(dir.join("run").join("metrics.csv")).unwrap();
        lm(&["pretrain", "--resume", &out, "--quiet"]).unwrap();
        let again = std::fs::read_to_string(dir.join("run").join("metrics.csv")).unwrap();
        assert_eq!(csv, again);
        assert!(TestCli::try_parse_from(["lm", "pretrain", "reviews", "--resume", &out]).is_err());
        lm(&["sample", &out, "-n", "2"]).unwrap();
        lm(&["sample", &out, "--prompt", "the plot", "--temperature", "0"]).unwrap();
        let e = lm(&["sample", &out, "--prompt", "THE PLOT"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'T'"), "{e}");
        let svg = dir.join("c.svg").display().to_string();
        lm(&["plot", &out, "--out", &svg]).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.starts_with("<svg"));
        // Both the plot and the run's own curve are drawn against sampled sequences.
        let curve = std::fs::read_to_string(dir.join("run").join("curve.svg")).unwrap();
        for t in [&text, &curve] {
            assert!(t.contains(&format!(">{SAMPLES_AXIS}</text>")), "{t}");
            assert!(!t.contains("environment steps"));
        }
        let e = lm(&["plot", &out, "--column", "nope"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nope`"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
