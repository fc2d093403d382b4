//! What a `pg lm` run needs besides the model to continue exactly: the step counters, the RNG
//! streams and the optimiser's moments, saved as `train_state.bin` (a `dense` parameter file)
//! next to the model in the checkpoint directory.
//!
//! A ChaCha8 stream is fully described by its seed, its stream number and its word position, so
//! restoring those three continues the stream bit for bit.

use crate::error::{PgError, Result};
use dense::optim::Adam;
use dense::paramfile::{ParamFile, ParamFileError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// The counters of a run at a checkpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Gradient steps taken.
    pub step: u64,
    /// Training sequences consumed.
    pub samples: u64,
    /// Completion tokens in them.
    pub tokens: u64,
}

const FILE: &str = "train_state.bin";

fn put_rng(file: &mut ParamFile, name: &str, rng: &ChaCha8Rng) {
    let seed = rng.get_seed();
    let words: Vec<u64> = seed
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    file.insert_u64(&format!("rng.{name}.seed"), &[4], &words);
    file.insert_u64(&format!("rng.{name}.stream"), &[1], &[rng.get_stream()]);
    let pos = rng.get_word_pos();
    file.insert_u64(
        &format!("rng.{name}.word_pos"),
        &[2],
        &[pos as u64, (pos >> 64) as u64],
    );
}

fn get_rng(file: &ParamFile, name: &str) -> std::result::Result<ChaCha8Rng, ParamFileError> {
    let words = file.u64(&format!("rng.{name}.seed"), &[4])?;
    let mut seed = [0u8; 32];
    for (chunk, w) in seed.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(file.u64(&format!("rng.{name}.stream"), &[1])?[0]);
    let pos = file.u64(&format!("rng.{name}.word_pos"), &[2])?;
    rng.set_word_pos(pos[0] as u128 | ((pos[1] as u128) << 64));
    Ok(rng)
}

/// Writes `train_state.bin` into checkpoint directory `dir`.
pub fn save(
    dir: &Path,
    progress: Progress,
    rngs: &[(&str, &ChaCha8Rng)],
    adam: &Adam,
) -> Result<()> {
    let mut file = ParamFile::new();
    file.insert_u64(
        "progress",
        &[3],
        &[progress.step, progress.samples, progress.tokens],
    );
    for (name, rng) in rngs {
        put_rng(&mut file, name, rng);
    }
    adam.save_to(&mut file, "adam.");
    let path = dir.join(FILE);
    file.save(&path)
        .map_err(|e| PgError::checkpoint(&path, e.to_string()))
}

/// Reads `train_state.bin` from checkpoint directory `dir`: the counters, the named RNG streams
/// (in the order of `names`), and the optimiser's state into `adam`.
pub fn load(dir: &Path, names: &[&str], adam: &mut Adam) -> Result<(Progress, Vec<ChaCha8Rng>)> {
    let path = dir.join(FILE);
    let bad = |e: ParamFileError| PgError::checkpoint(&path, e.to_string());
    let file = ParamFile::load(&path).map_err(bad)?;
    let p = file.u64("progress", &[3]).map_err(bad)?;
    let rngs = names
        .iter()
        .map(|n| get_rng(&file, n))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(bad)?;
    adam.load_from(&file, "adam.").map_err(bad)?;
    Ok((
        Progress {
            step: p[0],
            samples: p[1],
            tokens: p[2],
        },
        rngs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dense::optim::AdamConfig;
    use rand::Rng;

    #[test]
    fn rng_streams_and_counters_continue_exactly() {
        let dir = std::env::temp_dir().join(format!("pg-lm-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = ChaCha8Rng::seed_from_u64(9);
        a.set_stream(3);
        for _ in 0..37 {
            let _: u32 = a.r#gen();
        }
        let mut adam = Adam::new(AdamConfig::default());
        let mut params = vec![vec![1.0f32, 2.0]];
        adam.step(&mut params, &[vec![0.5f32, -0.5]]);
        let progress = Progress {
            step: 5,
            samples: 80,
            tokens: 300,
        };
        save(&dir, progress, &[("data", &a)], &adam).unwrap();
        let mut adam2 = Adam::new(AdamConfig::default());
        let (p, mut rngs) = load(&dir, &["data"], &mut adam2).unwrap();
        assert_eq!(p, progress);
        assert_eq!(adam2.state(), adam.state());
        let next: Vec<u64> = (0..5).map(|_| a.r#gen()).collect();
        let again: Vec<u64> = (0..5).map(|_| rngs[0].r#gen()).collect();
        assert_eq!(next, again);
        assert!(load(&dir, &["eval"], &mut adam2).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
