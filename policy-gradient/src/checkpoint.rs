//! Checkpoints: everything a [`Trainer`] holds between epochs, so that a resumed run continues
//! exactly as the uninterrupted one would have (a test compares their metrics bit for bit).
//!
//! # Format (version 1)
//!
//! One text file. The first line is `pg-checkpoint 1 <FNV-1a-64 of the body, 16 hex digits>`;
//! the body is one JSON object holding the configuration (TOML text), the counters, every
//! parameter tensor (shape and `f32` bit patterns), both Adam states, the ChaCha8 generator
//! (seed, stream, word position), the observation statistics, the episode tracker and the vector
//! env's snapshot bytes. Floats are stored as their bit patterns so nothing is lost to decimal
//! printing. The file is written to `NAME.tmp` and renamed over `NAME`, so a crash never leaves
//! a half-written checkpoint; a damaged file fails its checksum with a clear error.

use crate::config::Config;
use crate::episodes::EpisodeTracker;
use crate::error::{PgError, Result};
use crate::obs_norm::RunningNorm;
use crate::optim::Adam;
use crate::trainer::Trainer;
use autograd::Tensor;
use envs::VecEnvSnapshot;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &str = "pg-checkpoint";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Param {
    shape: Vec<usize>,
    bits: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct Body {
    config: String,
    epoch: u64,
    env_steps: u64,
    elapsed_bits: u64,
    policy: Vec<Param>,
    value: Option<Vec<Param>>,
    policy_adam: Vec<u32>,
    value_adam: Option<Vec<u32>>,
    rng_seed: Vec<u8>,
    rng_stream: u64,
    rng_word_pos: [u64; 2],
    obs_norm: Option<Vec<u64>>,
    tracker: Vec<u64>,
    env: Vec<u8>,
}

/// FNV-1a, 64 bit: `h = (h ⊕ byte) · 0x100000001b3` from `0xcbf29ce484222325`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn to_param(t: &Tensor<f32>) -> Param {
    Param {
        shape: t.shape().to_vec(),
        bits: t.data().iter().map(|x| x.to_bits()).collect(),
    }
}

fn set_params(path: &Path, what: &str, dst: Vec<&mut Tensor<f32>>, src: &[Param]) -> Result<()> {
    if dst.len() != src.len() {
        return Err(PgError::checkpoint(
            path,
            format!(
                "{what} has {} tensors, the config needs {}",
                src.len(),
                dst.len()
            ),
        ));
    }
    for (i, (d, s)) in dst.into_iter().zip(src).enumerate() {
        if d.shape() != s.shape.as_slice() || s.bits.len() != d.numel() {
            return Err(PgError::checkpoint(
                path,
                format!(
                    "{what} tensor {i} has shape {:?}, the config needs {:?}",
                    s.shape,
                    d.shape()
                ),
            ));
        }
        for (x, &b) in d.data_mut().iter_mut().zip(&s.bits) {
            *x = f32::from_bits(b);
        }
    }
    Ok(())
}

/// Writes the trainer's state to `path` (atomically: a temporary file renamed over it).
pub fn save(t: &Trainer, path: &Path) -> Result<()> {
    let wp = t.rng.get_word_pos();
    let body = Body {
        config: t.config.to_toml(),
        epoch: t.epoch,
        env_steps: t.env_steps,
        elapsed_bits: t.elapsed.to_bits(),
        policy: t.policy.params().into_iter().map(to_param).collect(),
        value: t
            .value
            .as_ref()
            .map(|v| v.params().iter().map(to_param).collect()),
        policy_adam: t.policy_opt.to_bits(),
        value_adam: t.value_opt.as_ref().map(|a| a.to_bits()),
        rng_seed: t.rng.get_seed().to_vec(),
        rng_stream: t.rng.get_stream(),
        rng_word_pos: [(wp >> 64) as u64, wp as u64],
        obs_norm: t
            .obs_norm
            .as_ref()
            .map(|n| n.to_vec().iter().map(|x| x.to_bits()).collect()),
        tracker: t.tracker.to_bits(),
        env: t.env.snapshot().to_bytes(),
    };
    let json = serde_json::to_string(&body).expect("a checkpoint body always serialises");
    let text = format!(
        "{MAGIC} {VERSION} {:016x}\n{json}\n",
        fnv1a64(json.as_bytes())
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| PgError::io(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| PgError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| PgError::io(path, e))
}

/// Reads a checkpoint and rebuilds the trainer. With `expected`, the checkpoint's configuration
/// must equal it (a run's `config.toml` that changed since the checkpoint is refused).
pub fn load(path: &Path, expected: Option<&Config>) -> Result<Trainer> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            PgError::checkpoint(path, "not found (was the run ever checkpointed?)")
        }
        std::io::ErrorKind::InvalidData => {
            PgError::checkpoint(path, "not a checkpoint (not UTF-8 text)")
        }
        _ => PgError::io(path, e),
    })?;
    let (header, json) = text
        .split_once('\n')
        .ok_or_else(|| PgError::checkpoint(path, "truncated: no header line"))?;
    let json = json.strip_suffix('\n').unwrap_or(json);
    let mut h = header.split(' ');
    if h.next() != Some(MAGIC) {
        return Err(PgError::checkpoint(
            path,
            format!("not a checkpoint: the first line should start with `{MAGIC}`"),
        ));
    }
    let version: u32 = h.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    if version != VERSION {
        return Err(PgError::checkpoint(
            path,
            format!("format version {version}, this pg reads version {VERSION}"),
        ));
    }
    let sum = h.next().and_then(|s| u64::from_str_radix(s, 16).ok());
    let actual = fnv1a64(json.as_bytes());
    if sum != Some(actual) {
        return Err(PgError::checkpoint(
            path,
            format!("damaged: checksum {actual:016x} does not match the header"),
        ));
    }
    let body: Body = serde_json::from_str(json)
        .map_err(|e| PgError::checkpoint(path, format!("damaged: {e}")))?;
    let config = Config::from_toml(
        &body.config,
        &format!("the config inside {}", path.display()),
    )?;
    if let Some(e) = expected
        && *e != config
    {
        return Err(PgError::checkpoint(
            path,
            "its configuration differs from the run's config.toml",
        ));
    }
    let mut t = Trainer::new(config)?;
    set_params(path, "the policy", t.policy.params_mut(), &body.policy)?;
    match (t.value.as_mut(), &body.value) {
        (Some(v), Some(p)) => set_params(
            path,
            "the value function",
            v.params_mut().iter_mut().collect(),
            p,
        )?,
        (None, None) => {}
        _ => {
            return Err(PgError::checkpoint(
                path,
                "value function present in one of checkpoint and config only",
            ));
        }
    }
    let sizes = |ps: Vec<&Tensor<f32>>| ps.iter().map(|p| p.numel()).collect::<Vec<_>>();
    t.policy_opt = Adam::from_bits(&body.policy_adam, &sizes(t.policy.params()))
        .ok_or_else(|| PgError::checkpoint(path, "policy optimiser state has the wrong size"))?;
    t.value_opt = match (&t.value, &body.value_adam) {
        (Some(v), Some(bits)) => Some(
            Adam::from_bits(bits, &sizes(v.params().iter().collect())).ok_or_else(|| {
                PgError::checkpoint(path, "value optimiser state has the wrong size")
            })?,
        ),
        _ => None,
    };
    let seed: [u8; 32] = body
        .rng_seed
        .as_slice()
        .try_into()
        .map_err(|_| PgError::checkpoint(path, "RNG seed is not 32 bytes"))?;
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(body.rng_stream);
    rng.set_word_pos(((body.rng_word_pos[0] as u128) << 64) | body.rng_word_pos[1] as u128);
    t.rng = rng;
    t.obs_norm = match (&t.obs_norm, &body.obs_norm) {
        (Some(n), Some(bits)) => {
            let v: Vec<f64> = bits.iter().map(|&b| f64::from_bits(b)).collect();
            Some(RunningNorm::from_vec(&v, n.dim()).ok_or_else(|| {
                PgError::checkpoint(path, "observation statistics have the wrong size")
            })?)
        }
        (None, None) => None,
        _ => {
            return Err(PgError::checkpoint(
                path,
                "observation statistics present in one of checkpoint and config only",
            ));
        }
    };
    t.tracker = EpisodeTracker::from_bits(&body.tracker)
        .ok_or_else(|| PgError::checkpoint(path, "episode tracker state is inconsistent"))?;
    let snap = VecEnvSnapshot::from_bytes(&body.env)
        .map_err(|e| PgError::checkpoint(path, format!("environment snapshot: {e}")))?;
    t.env
        .restore(&snap)
        .map_err(|e| PgError::checkpoint(path, format!("environment snapshot: {e}")))?;
    t.epoch = body.epoch;
    t.env_steps = body.env_steps;
    t.elapsed = f64::from_bits(body.elapsed_bits);
    Ok(t)
}
