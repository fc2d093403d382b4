//! `pg plot` compares configurations: runs that differ only in their seed are one curve, each
//! configuration gets one legend entry, and runs of different environments are refused.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::pg;
use crate::common::scratch;

fn tmp(name: &str) -> PathBuf {
    scratch("plot-groups", name)
}

/// Trains a tiny run of `env` in `dir` with `sets` on top of the small size.
fn tiny_run(env: &str, dir: &Path, seed: &str, sets: &[&str]) {
    let mut args = vec![
        "train",
        env,
        "--seed",
        seed,
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ];
    for s in [
        "num_envs=2",
        "steps_per_env=50",
        "total_env_steps=300",
        "hidden_sizes=[8]",
    ]
    .iter()
    .chain(sets)
    {
        args.extend(["--set", s]);
    }
    let r = pg(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

fn plot(runs: &[&Path], extra: &[&str], out: &Path) -> Output {
    let mut args: Vec<&str> = vec!["plot", "--out", out.to_str().unwrap()];
    args.extend(runs.iter().map(|r| r.to_str().unwrap()));
    args.extend(extra);
    pg(&args)
}

#[test]
fn one_legend_entry_per_configuration_and_mixed_environments_refused() {
    let root = tmp("groups");
    let (a0, a1, b0, b1, acro) = (
        root.join("a0"),
        root.join("a1"),
        root.join("b0"),
        root.join("b1"),
        root.join("acrobot"),
    );
    tiny_run("CartPole-v1", &a0, "0", &[]);
    tiny_run("CartPole-v1", &a1, "1", &[]);
    tiny_run("CartPole-v1", &b0, "0", &["lr=0.001"]);
    tiny_run("CartPole-v1", &b1, "1", &["lr=0.001"]);
    tiny_run("Acrobot-v1", &acro, "0", &[]);
    let svg_path = root.join("plot.svg");

    // Two configurations (lr differs), two seeds each: two curves, two legend entries.
    let r = plot(&[&a0, &b0, &a1, &b1], &[], &svg_path);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(svg.matches("class=\"legend-entry\"").count(), 2, "{svg}");
    assert!(svg.contains(">lr=0.003 (2 runs)</text>"), "{svg}");
    assert!(svg.contains(">lr=0.001 (2 runs)</text>"), "{svg}");
    assert!(svg.contains("(4 runs)"));

    // Seeds of one configuration: one curve, no legend needed.
    assert!(plot(&[&a0, &a1], &[], &svg_path).status.success());
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(svg.matches("class=\"legend-entry\"").count(), 0);

    // --group-by seed and --label, against episodes.
    let r = plot(
        &[&a0, &b0, &a1, &b1],
        &[
            "--group-by",
            "seed",
            "--label",
            "first",
            "--label",
            "second",
            "--xaxis",
            "episodes",
        ],
        &svg_path,
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(svg.matches("class=\"legend-entry\"").count(), 2);
    assert!(svg.contains(">first (2 runs)</text>") && svg.contains(">second (2 runs)</text>"));
    assert!(svg.contains(">episodes</text>"));

    // Too few labels, an unknown key, and mixed environments: one clear line each.
    for (runs, extra, needle) in [
        (
            vec![a0.as_path(), &b0],
            vec!["--label", "x"],
            "1 --label values for 2 groups",
        ),
        (vec![a0.as_path(), &b0], vec!["--group-by", "lrr"], "`lrr`"),
        (vec![a0.as_path(), &acro], vec![], "different environments"),
    ] {
        let r = plot(&runs, &extra, &svg_path);
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && e.contains(needle), "{e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    }
    let e = String::from_utf8_lossy(&plot(&[&a0, &acro], &[], &svg_path).stderr).into_owned();
    assert!(e.contains("CartPole-v1") && e.contains("Acrobot-v1"), "{e}");
    std::fs::remove_dir_all(root).unwrap();
}
