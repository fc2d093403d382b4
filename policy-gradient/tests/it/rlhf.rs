//! The RLHF pipeline through the `pg` binary, at a tiny size: pretrain a policy, train a reward
//! model on its completions (`pg lm reward`), then fine-tune against the learned reward
//! (`pg lm rl --reward model:DIR`), logging the gold score beside it. Bad inputs are one line.

use std::path::{Path, PathBuf};

use crate::common::{clean_failure, csv_column, pg, scratch_dir, succeeded};

fn ok(args: &[&str]) -> String {
    succeeded(&pg(args))
}

/// Runs `args`, which must fail with one line on stderr containing `needle` and no panic.
fn fails(args: &[&str], needle: &str) {
    let e = clean_failure(&pg(args), needle);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
}

fn tmp(name: &str) -> PathBuf {
    scratch_dir("rlhf", name)
}

fn column(dir: &Path, name: &str) -> Vec<f64> {
    csv_column(&dir.join("metrics.csv"), name)
}

fn pretrain(task: &str, out: &str) {
    ok(&[
        "lm",
        "pretrain",
        task,
        "--out",
        out,
        "--quiet",
        "--set",
        "steps=30",
        "--set",
        "batch_size=16",
        "--set",
        "hidden_sizes=[16]",
        "--set",
        "eval_every=30",
        "--set",
        "eval_prompts=8",
    ]);
}

#[test]
fn pretrain_reward_and_rl_against_the_learned_reward() {
    let dir = tmp("pipeline");
    let s = |p: &str| dir.join(p).display().to_string();
    let (policy, rm, rl) = (s("policy"), s("rm"), s("rl"));
    pretrain("dialogue", &policy);
    let said = ok(&[
        "lm",
        "reward",
        "dialogue",
        "--policy",
        &policy,
        "--label-noise",
        "0.1",
        "--out",
        &rm,
        "--quiet",
        "--set",
        "train_pairs=32",
        "--set",
        "heldout_pairs=16",
        "--set",
        "steps=8",
        "--set",
        "batch_size=8",
        "--set",
        "eval_every=4",
    ]);
    assert!(said.contains("held-out preference accuracy"), "{said}");
    let acc = column(&dir.join("rm"), "heldout_accuracy");
    assert_eq!(acc.len(), 9, "row 0 and 8 steps");
    assert!(
        acc.iter()
            .filter(|a| !a.is_nan())
            .all(|a| (0.0..=1.0).contains(a))
    );
    let model = format!("model:{rm}");
    sampled_and_hand_written_texts_get_the_same_scores(&policy, &rm, &model);
    ok(&[
        "lm",
        "rl",
        "dialogue",
        "--reference",
        &policy,
        "--reward",
        &model,
        "--out",
        &rl,
        "--quiet",
        "--set",
        "prompts_per_step=2",
        "--set",
        "samples_per_prompt=2",
        "--set",
        "total_samples=12",
        "--set",
        "eval_every=1",
        "--set",
        "eval_prompts=4",
        "--set",
        "update=\"ppo\"",
        "--set",
        "update_epochs=2",
    ]);
    let rl_dir = dir.join("rl");
    let (reward, gold, kl) = (
        column(&rl_dir, "reward"),
        column(&rl_dir, "gold"),
        column(&rl_dir, "kl"),
    );
    assert_eq!(reward.len(), 4, "row 0 and 3 steps");
    // Every step logs the learned reward it optimised, the gold score and the KL.
    for r in 1..4 {
        assert!(
            reward[r].is_finite() && gold[r].is_finite() && kl[r].is_finite(),
            "row {r}"
        );
    }
    assert!(
        column(&rl_dir, "clip_fraction")[1..]
            .iter()
            .all(|c| (0.0..=1.0).contains(c))
    );
    // The learned reward is not the task's: the two columns differ somewhere.
    assert!(
        reward[1..].iter().zip(&gold[1..]).any(|(r, g)| r != g),
        "{reward:?} {gold:?}"
    );
    let saved = std::fs::read_to_string(rl_dir.join("config.toml")).unwrap();
    assert!(
        saved.contains("reward = \"model:/"),
        "an absolute path is saved: {saved}"
    );
    // The gold score against KL, one legend entry per run.
    let svg = s("gold-kl.svg");
    ok(&[
        "lm", "plot", &rl, "--column", "gold", "--xaxis", "kl", "--out", &svg,
    ]);
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains(">KL to the reference")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pg lm sample --reward model:DIR` scores each sampled completion with the reward model and the
/// gold judge; `pg lm score` scores the same texts typed in by hand and must print the same
/// line, scores included.
fn sampled_and_hand_written_texts_get_the_same_scores(policy: &str, rm: &str, model: &str) {
    let sampled = ok(&["lm", "sample", policy, "-n", "12", "--reward", model]);
    let mut checked = 0;
    for line in sampled.lines() {
        assert!(
            line.contains("  gold ") && line.contains("  proxy "),
            "{line}"
        );
        let (prompt, rest) = line.split_once(" -> ").expect("prompt -> completion");
        let Some((completion, _)) = rest.split_once("<eos>  [") else {
            continue; // cut off at the length limit: not a finished reply
        };
        if completion.contains('<') {
            continue; // a special token (`<bos>`) inside: not text one can type
        }
        let scored = ok(&[
            "lm",
            "score",
            rm,
            "--prompt",
            prompt,
            "--completion",
            completion,
        ]);
        assert_eq!(scored.trim_end(), line, "the same text, the same scores");
        checked += 1;
    }
    assert!(checked > 0, "no finished completion among {sampled}");
}

#[test]
fn bad_pipeline_inputs_are_one_line_errors() {
    let dir = tmp("bad");
    let s = |p: &str| dir.join(p).display().to_string();
    let (policy, reviews) = (s("policy"), s("reviews"));
    fails(
        &["lm", "reward", "dialogue", "--policy", &s("missing")],
        "missing",
    );
    fails(
        &["lm", "reward", "dialogue", "--label-noise", "0.6"],
        "`label_noise`",
    );
    fails(
        &["lm", "reward", "dialogue", "--label-noise", "-0.1"],
        "`label_noise`",
    );
    pretrain("dialogue", &policy);
    pretrain("reviews", &reviews);
    fails(
        &[
            "lm",
            "reward",
            "dialogue",
            "--policy",
            &reviews,
            "--out",
            &s("rm"),
        ],
        "trained on task `reviews`, not `dialogue`",
    );
    // A policy is not a reward model, and a reward model of one task cannot score another.
    let as_model = format!("model:{policy}");
    fails(
        &[
            "lm",
            "rl",
            "dialogue",
            "--reference",
            &policy,
            "--reward",
            &as_model,
            "--out",
            &s("rl"),
        ],
        "not a reward model",
    );
    // A barely trained reviews policy never writes a well-formed review: every pair ties.
    fails(
        &[
            "lm",
            "reward",
            "reviews",
            "--policy",
            &reviews,
            "--out",
            &s("rm-reviews"),
            "--set",
            "train_pairs=8",
        ],
        "differ in gold score",
    );
    ok(&[
        "lm",
        "reward",
        "dialogue",
        "--policy",
        &policy,
        "--out",
        &s("rm"),
        "--quiet",
        "--set",
        "train_pairs=8",
        "--set",
        "heldout_pairs=4",
        "--set",
        "steps=2",
        "--set",
        "batch_size=4",
    ]);
    let other = format!("model:{}", s("rm"));
    fails(
        &[
            "lm",
            "rl",
            "reviews",
            "--reference",
            &reviews,
            "--reward",
            &other,
            "--out",
            &s("rl"),
        ],
        "scores texts of task `dialogue`, not `reviews`",
    );
    fails(&["lm", "rl", "dialogue", "--reward", "gold"], "`reward`");
    // Scoring: one completion per prompt, a reward model of the policy's task, replies that fit.
    let rm = s("rm");
    fails(
        &[
            "lm",
            "score",
            &rm,
            "--prompt",
            "hi",
            "--prompt",
            "hi",
            "--completion",
            "hello",
        ],
        "expected one completion per prompt",
    );
    let long = "hello ".repeat(10);
    fails(
        &["lm", "score", &rm, "--prompt", "hi", "--completion", &long],
        "completes in at most",
    );
    fails(
        &[
            "lm",
            "score",
            &policy,
            "--prompt",
            "hi",
            "--completion",
            "hello",
        ],
        "not a reward model",
    );
    fails(
        &["lm", "sample", &reviews, "--reward", &format!("model:{rm}")],
        "scores texts of task `dialogue`, not `reviews`",
    );
    fails(
        &["lm", "sample", &policy, "--reward", "task"],
        "expected model:DIR",
    );
    let missing = format!("model:{}", s("missing"));
    fails(
        &[
            "lm",
            "rl",
            "dialogue",
            "--reference",
            &policy,
            "--reward",
            &missing,
            "--out",
            &s("rl"),
        ],
        "expected a pg lm reward run",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The metrics of a run without its wall-clock columns.
fn learning_columns(dir: &Path) -> String {
    policy_gradient::lm::run::csv_without_wall_clock(&dir.join("metrics.csv")).unwrap()
}

#[test]
fn a_transformer_reward_model_reads_whole_texts_and_any_thread_count_gives_the_same_bits() {
    let dir = tmp("transformer");
    let s = |p: &str| dir.join(p).display().to_string();
    // The longest dialogue prompt (`spell cat`, 9 characters) and the longest reply (24 tokens)
    // need 33 positions; a policy samples with 32 (it never reads its own last token).
    let gpt = |context: &str, out: &str| {
        ok(&[
            "lm",
            "pretrain",
            "dialogue",
            "--out",
            out,
            "--quiet",
            "--set",
            "model=transformer",
            "--set",
            context,
            "--set",
            "width=8",
            "--set",
            "heads=2",
            "--set",
            "layers=1",
            "--set",
            "steps=6",
            "--set",
            "batch_size=8",
            "--set",
            "eval_every=6",
            "--set",
            "eval_prompts=4",
        ]);
    };
    let (short, policy) = (s("short"), s("policy"));
    gpt("context=32", &short);
    fails(
        &[
            "lm",
            "reward",
            "dialogue",
            "--policy",
            &short,
            "--out",
            &s("rm-short"),
        ],
        "context >= 33",
    );
    gpt("context=33", &policy);
    let reward = |threads: &str, out: &str| {
        ok(&[
            "--threads",
            threads,
            "lm",
            "reward",
            "dialogue",
            "--policy",
            &policy,
            "--out",
            out,
            "--quiet",
            "--set",
            "train_pairs=16",
            "--set",
            "heldout_pairs=8",
            "--set",
            "steps=4",
            "--set",
            "batch_size=4",
            "--set",
            "eval_every=2",
        ]);
    };
    let (one, two) = (s("rm1"), s("rm2"));
    reward("1", &one);
    reward("2", &two);
    assert_eq!(
        learning_columns(&dir.join("rm1")),
        learning_columns(&dir.join("rm2"))
    );
    let model = format!("model:{one}");
    ok(&[
        "lm",
        "rl",
        "dialogue",
        "--reference",
        &policy,
        "--reward",
        &model,
        "--out",
        &s("rl"),
        "--quiet",
        "--set",
        "prompts_per_step=2",
        "--set",
        "samples_per_prompt=2",
        "--set",
        "total_samples=8",
        "--set",
        "eval_every=1",
        "--set",
        "eval_prompts=2",
    ]);
    assert!(
        column(&dir.join("rl"), "gold")[1..]
            .iter()
            .all(|g| g.is_finite())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
