//! Runs grouped into the curves of a comparison: runs whose `config.toml` differ only in `seed`
//! are seeds of one configuration and form one group; `--group-by KEY` groups by one key instead.
//! `pg plot` draws one curve per group and `pg sweep` summarises one row per group.

use crate::error::{PgError, Result};
use crate::run::config::parse_table;
use crate::run::dir::RunDir;
use std::path::{Path, PathBuf};

/// The key that tells seeds of one configuration apart.
pub const SEED_KEY: &str = "seed";

/// How runs are grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Equal configurations once `seed` is left out.
    Config,
    /// Equal values of this key (the other keys may differ).
    Key(String),
}

/// One group: its legend text and its run directories, in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct RunGroup {
    /// `key=value` pairs telling this group from the others (empty when there is one group).
    pub label: String,
    /// The runs of the group.
    pub dirs: Vec<PathBuf>,
}

/// A run's saved configuration as a TOML table.
pub fn read_config_table(dir: &Path) -> Result<toml::Table> {
    let p = RunDir::open(dir)?.config_path();
    let text = std::fs::read_to_string(&p).map_err(|e| PgError::io(&p, e))?;
    parse_table(&text, &p.display().to_string())
}

/// A one-line error of a comparison that cannot be made.
fn refuse(message: String) -> PgError {
    PgError::Other(message.into())
}

/// The value of `key` in a run's configuration, as written in TOML (`0.001`, `"ppo"`, `[64, 64]`).
fn value_text(table: &toml::Table, key: &str) -> Option<String> {
    table.get(key).map(|v| match v {
        toml::Value::String(s) => s.clone(),
        v => v.to_string(),
    })
}

/// Refuses runs of different environments (the value of `subject_key`, e.g. `env_id`) with one
/// line naming two runs that differ; returns the common environment.
pub fn one_subject(runs: &[(PathBuf, toml::Table)], subject_key: &str) -> Result<String> {
    let mut first: Option<(&Path, String)> = None;
    for (dir, table) in runs {
        let subject = value_text(table, subject_key).ok_or_else(|| PgError::NotARun {
            dir: dir.clone(),
            missing: format!("`{subject_key}` in config.toml"),
        })?;
        match &first {
            None => first = Some((dir, subject)),
            Some((d0, s0)) if *s0 != subject => {
                return Err(refuse(format!(
                    "runs of different environments cannot share a plot: {} is {s0}, {} is {subject}; \
                     plot each environment separately",
                    d0.display(),
                    dir.display()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|f| f.1).unwrap_or_default())
}

/// Groups `runs` (directory and configuration) by `by`, groups in the order of their first run.
/// Each label lists the keys whose values differ between the groups (for [`GroupBy::Key`], that
/// key), so the legend says what was compared.
///
/// ```
/// use policy_gradient::run::group::{group_runs, GroupBy};
/// let run = |dir: &str, text: &str| (dir.into(), toml::from_str(text).unwrap());
/// let runs = vec![
///     run("a0", "seed = 0\nlr = 0.001"),
///     run("b0", "seed = 0\nlr = 0.003"),
///     run("a1", "seed = 1\nlr = 0.001"),
/// ];
/// let g = group_runs(&runs, &GroupBy::Config).unwrap();
/// assert_eq!(g.len(), 2);
/// assert_eq!(g[0].label, "lr=0.001");
/// assert_eq!(g[0].dirs, vec![std::path::PathBuf::from("a0"), "a1".into()]);
/// ```
pub fn group_runs(runs: &[(PathBuf, toml::Table)], by: &GroupBy) -> Result<Vec<RunGroup>> {
    // The identity of a run's group, and the table whose keys the label may name.
    let mut keys: Vec<toml::Table> = Vec::new();
    let mut groups: Vec<RunGroup> = Vec::new();
    for (dir, table) in runs {
        let key = match by {
            GroupBy::Config => {
                let mut t = table.clone();
                t.remove(SEED_KEY);
                t
            }
            GroupBy::Key(k) => {
                let v = table.get(k).ok_or_else(|| {
                    refuse(format!(
                        "--group-by `{k}`: {} has no such key in its config.toml",
                        dir.display()
                    ))
                })?;
                toml::Table::from_iter([(k.clone(), v.clone())])
            }
        };
        match keys.iter().position(|k| *k == key) {
            Some(i) => groups[i].dirs.push(dir.clone()),
            None => {
                keys.push(key);
                groups.push(RunGroup {
                    label: String::new(),
                    dirs: vec![dir.clone()],
                });
            }
        }
    }
    if groups.len() > 1 {
        for (g, key) in groups.iter_mut().zip(&keys) {
            g.label = differing_keys(&keys)
                .iter()
                .map(|k| format!("{k}={}", value_text(key, k).unwrap_or("-".into())))
                .collect::<Vec<_>>()
                .join(", ");
        }
    }
    Ok(groups)
}

/// The keys whose values are not the same in every table, in the order of the first table
/// (then of the others).
fn differing_keys(tables: &[toml::Table]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for t in tables {
        for k in t.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys.retain(|k| tables.iter().any(|t| t.get(k) != tables[0].get(k)));
    keys
}

/// Replaces the labels with `labels` (one per group, in group order): `--label`.
pub fn relabel(groups: &mut [RunGroup], labels: &[String]) -> Result<()> {
    if labels.is_empty() {
        return Ok(());
    }
    if labels.len() != groups.len() {
        return Err(refuse(format!(
            "{} --label values for {} groups; give one per group, in the order of their first run ({})",
            labels.len(),
            groups.len(),
            groups
                .iter()
                .map(|g| g.dirs[0].display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (g, l) in groups.iter_mut().zip(labels) {
        g.label = l.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &str, text: &str) -> (PathBuf, toml::Table) {
        (dir.into(), toml::from_str(text).unwrap())
    }

    #[test]
    fn seeds_of_one_configuration_form_one_unlabelled_group() {
        let runs = [run("a", "seed = 0\nlr = 1"), run("b", "seed = 1\nlr = 1")];
        let g = group_runs(&runs, &GroupBy::Config).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].label, "");
    }

    #[test]
    fn group_by_a_key_ignores_the_others() {
        let runs = [
            run("a", "seed = 0\nlr = 1\nupdate = \"pg\""),
            run("b", "seed = 1\nlr = 2\nupdate = \"ppo\""),
            run("c", "seed = 2\nlr = 3\nupdate = \"pg\""),
        ];
        let g = group_runs(&runs, &GroupBy::Key("update".into())).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].label.as_str(), g[0].dirs.len()), ("update=pg", 2));
        assert_eq!(g[1].label, "update=ppo");
        let e = group_runs(&runs, &GroupBy::Key("lr_typo".into())).unwrap_err();
        assert!(e.to_string().contains("`lr_typo`"), "{e}");
    }

    #[test]
    fn labels_must_match_the_groups() {
        let runs = [run("a", "seed = 0\nlr = 1"), run("b", "seed = 0\nlr = 2")];
        let mut g = group_runs(&runs, &GroupBy::Config).unwrap();
        assert!(relabel(&mut g, &["x".into()]).is_err());
        relabel(&mut g, &["x".into(), "y".into()]).unwrap();
        assert_eq!(g[1].label, "y");
    }

    #[test]
    fn mixed_environments_are_refused() {
        let runs = [
            run("a", "env_id = \"CartPole-v1\""),
            run("b", "env_id = \"Acrobot-v1\""),
        ];
        let e = one_subject(&runs, "env_id").unwrap_err().to_string();
        assert!(e.contains("CartPole-v1") && e.contains("Acrobot-v1"), "{e}");
        assert_eq!(one_subject(&runs[..1], "env_id").unwrap(), "CartPole-v1");
    }
}
