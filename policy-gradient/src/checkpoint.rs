//! Checkpoints: everything a [`Trainer`] holds between epochs, so that a resumed run continues
//! exactly as the uninterrupted one would have (a test compares their metrics bit for bit).
//!
//! # Format
//!
//! One `dense` parameter file (magic number, version, named tensors, checksum; written to a
//! temporary file and renamed, so a crash never leaves half a checkpoint). Its entries:
//!
//! | name | dtype | what |
//! |---|---|---|
//! | `checkpoint.version` | u64 | [`VERSION`] |
//! | `config.toml`, `config.toml.len` | u64 | the run's configuration as UTF-8 bytes packed 8 per u64 |
//! | `counters` | u64 | epoch, env steps, elapsed seconds (f64 bits) |
//! | `policy.layer{i}.weight/.bias` | f32 | the policy MLP (`dense::Mlp::save_to`) |
//! | `policy.log_std` | f32 | the Gaussian's `log σ` (continuous actions only) |
//! | `value.layer{i}.weight/.bias` | f32 | the value MLP, when there is one |
//! | `policy_adam.*`, `value_adam.*` | f64/u64/f32 | both Adam states (`dense::optim::Adam::save_to`), with `optimizer = "adam"` |
//! | `policy_sgd.*`, `value_sgd.*` | f64/u64/f32 | both SGD states (`dense::optim::Sgd::save_to`), with `optimizer = "sgd"` |
//! | `rng` | u64 | ChaCha8: the 32-byte seed as 4 words, the stream, the word position (2 words) |
//! | `obs_norm` | f64 | running observation statistics, when normalisation is on |
//! | `episodes` | u64 | the episode tracker (running returns, window of recent returns) |
//! | `env.snapshot`, `env.snapshot.len` | u64 | the vector env's snapshot bytes (`envs::VecEnvSnapshot`) |

use crate::config::Config;
use crate::episodes::EpisodeTracker;
use crate::error::{PgError, Result};
use crate::obs_norm::RunningNorm;
use crate::run::checkpoint::{bad, get_rng, pack_bytes, put_rng, u64s, unpack_bytes, unpack_text};
use crate::run::optimizer::NetOptimizer;
use crate::trainer::Trainer;
use dense::paramfile::ParamFile;
use envs::VecEnvSnapshot;
use std::path::Path;

/// Version of the checkpoint layout inside the parameter file.
pub const VERSION: u64 = 1;

/// Writes the trainer's state to `path` (atomically).
pub fn save(t: &Trainer, path: &Path) -> Result<()> {
    let mut f = ParamFile::new();
    f.insert_u64("checkpoint.version", &[1], &[VERSION]);
    pack_bytes(&mut f, "config.toml", t.config.to_toml().as_bytes());
    f.insert_u64(
        "counters",
        &[3],
        &[t.epoch, t.env_steps, t.elapsed.to_bits()],
    );
    t.policy.net().save_to(&mut f, "policy.");
    let log_std = t.policy.log_std();
    if !log_std.is_empty() {
        f.insert_f32("policy.log_std", &[log_std.len()], log_std);
    }
    if let Some(v) = &t.value {
        v.save_to(&mut f, "value.");
    }
    t.policy_opt.save_to(&mut f, "policy");
    if let Some(a) = &t.value_opt {
        a.save_to(&mut f, "value");
    }
    put_rng(&mut f, "rng", &t.rng);
    if let Some(n) = &t.obs_norm {
        let v = n.to_vec();
        f.insert_f64("obs_norm", &[v.len()], &v);
    }
    let ep = t.tracker.to_bits();
    f.insert_u64("episodes", &[ep.len()], &ep);
    pack_bytes(&mut f, "env.snapshot", &t.env.snapshot().to_bytes());
    crate::run::checkpoint::save(&f, path)
}

/// The configuration stored in a checkpoint.
pub fn read_config(path: &Path) -> Result<Config> {
    let f = open(path)?;
    config_of(&f, path)
}

fn open(path: &Path) -> Result<ParamFile> {
    crate::run::checkpoint::open(path, "checkpoint.version", VERSION, "pg train")
}

fn config_of(f: &ParamFile, path: &Path) -> Result<Config> {
    let text = unpack_text(f, "config.toml", path)?;
    Config::from_toml(
        &text,
        &format!("the configuration inside {}", path.display()),
    )
}

/// Reads a checkpoint and rebuilds the trainer. With `expected`, the checkpoint's configuration
/// must equal it (a run's `config.toml` edited since the checkpoint is refused).
pub fn load(path: &Path, expected: Option<&Config>) -> Result<Trainer> {
    let f = open(path)?;
    let config = config_of(&f, path)?;
    if let Some(e) = expected
        && *e != config
    {
        return Err(PgError::checkpoint(
            path,
            "its configuration differs from the run's config.toml",
        ));
    }
    let mut t = Trainer::new(config)?;
    let counters = u64s(&f, "counters", path)?;
    let [epoch, env_steps, elapsed] = counters else {
        return Err(PgError::checkpoint(
            path,
            "`counters` should hold 3 numbers",
        ));
    };
    t.policy
        .net_mut()
        .load_from(&f, "policy.")
        .map_err(bad(path))?;
    if !t.policy.log_std().is_empty() {
        let n = t.policy.log_std().len();
        let v = f.f32("policy.log_std", &[n]).map_err(bad(path))?;
        t.policy.log_std_mut().data_mut().copy_from_slice(v);
    }
    if let Some(v) = t.value.as_mut() {
        v.load_from(&f, "value.").map_err(bad(path))?;
    }
    let sizes: Vec<usize> = t.policy.params().iter().map(|p| p.numel()).collect();
    let load_opt = |opt: &mut NetOptimizer, net: &str, sizes: &[usize]| {
        opt.load_from(&f, net, sizes)
            .map_err(|e| PgError::checkpoint(path, e))
    };
    load_opt(&mut t.policy_opt, "policy", &sizes)?;
    if let (Some(opt), Some(v)) = (t.value_opt.as_mut(), t.value.as_ref()) {
        let sizes: Vec<usize> = v.params().iter().map(|p| p.numel()).collect();
        load_opt(opt, "value", &sizes)?;
    }
    t.rng = get_rng(&f, "rng", path)?;
    if let Some(n) = &t.obs_norm {
        let dim = n.dim();
        let v = f.f64("obs_norm", &[2 + 2 * dim]).map_err(bad(path))?;
        t.obs_norm = Some(RunningNorm::from_vec(v, dim).expect("length checked by the read"));
    }
    t.tracker = EpisodeTracker::from_bits(u64s(&f, "episodes", path)?)
        .filter(|e| e.num_envs() == t.config.num_envs && e.window() == t.config.solved_window)
        .ok_or_else(|| PgError::checkpoint(path, "the episode tracker state is inconsistent"))?;
    let snap = VecEnvSnapshot::from_bytes(&unpack_bytes(&f, "env.snapshot", path)?)
        .map_err(|e| PgError::checkpoint(path, format!("environment snapshot: {e}")))?;
    t.env
        .restore(&snap)
        .map_err(|e| PgError::checkpoint(path, format!("environment snapshot: {e}")))?;
    t.epoch = *epoch;
    t.env_steps = *env_steps;
    t.elapsed = f64::from_bits(*elapsed);
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("pg-ckpt-{}-{name}", std::process::id()))
    }

    #[test]
    fn damaged_or_foreign_files_are_clear_errors() {
        let c = Config {
            num_envs: 2,
            steps_per_env: 10,
            hidden_sizes: vec![8],
            ..Config::preset("CartPole-v1").unwrap()
        };
        let mut t = Trainer::new(c.clone()).unwrap();
        t.epoch().unwrap();
        let p = tmp("ok.ckpt");
        save(&t, &p).unwrap();
        let back = load(&p, Some(&c)).unwrap();
        assert_eq!(back.env_steps(), 20);
        assert_eq!(back.policy(), t.policy());
        // A changed config is refused.
        let other = Config {
            seed: 5,
            ..c.clone()
        };
        assert!(
            load(&p, Some(&other))
                .unwrap_err()
                .to_string()
                .contains("differs")
        );
        // A flipped byte fails the checksum; a truncated file and a foreign file fail too.
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = load(&p, None).unwrap_err();
        assert!(matches!(e, PgError::Checkpoint { .. }), "{e}");
        std::fs::write(&p, &bytes[..10]).unwrap();
        assert!(matches!(load(&p, None), Err(PgError::Checkpoint { .. })));
        std::fs::write(&p, b"hello").unwrap();
        assert!(matches!(load(&p, None), Err(PgError::Checkpoint { .. })));
        std::fs::remove_file(&p).unwrap();
        let e = load(&p, None).unwrap_err().to_string();
        assert!(e.contains("not found"), "{e}");
    }
}
