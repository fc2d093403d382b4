//! [`VecEnvSnapshot`]: the saved state of a [`crate::VecEnv`] (one [`EnvSnapshot`] per copy plus
//! the observation buffer) and its byte encoding, for trainer checkpoints.

use crate::env::EnvSnapshot;
use crate::error::EnvError;

/// The saved state of a [`crate::VecEnv`].
#[derive(Debug, Clone, PartialEq)]
pub struct VecEnvSnapshot {
    /// One snapshot per copy.
    pub envs: Vec<EnvSnapshot>,
    /// The observation buffer.
    pub obs: Vec<f32>,
    /// Whether the vector was waiting for its first reset.
    pub needs_reset: bool,
}

/// First bytes of an encoded vector snapshot.
pub const VEC_SNAPSHOT_MAGIC: &[u8; 8] = b"VECSNAP1";

impl VecEnvSnapshot {
    /// Encode: magic `VECSNAP1`, needs_reset (1 byte), observation count (u32) and values
    /// (f32 LE), copy count (u32), then each copy as a length (u32) and its
    /// [`EnvSnapshot::to_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(VEC_SNAPSHOT_MAGIC);
        b.push(self.needs_reset as u8);
        b.extend_from_slice(&(self.obs.len() as u32).to_le_bytes());
        for v in &self.obs {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(self.envs.len() as u32).to_le_bytes());
        for e in &self.envs {
            let bytes = e.to_bytes();
            b.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            b.extend_from_slice(&bytes);
        }
        b
    }

    /// Decode bytes written by [`VecEnvSnapshot::to_bytes`]; damage is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvError> {
        let bad = |r: &str| EnvError::BadSnapshot {
            reason: format!("vector snapshot: {r}"),
        };
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], EnvError> {
            let end = pos
                .checked_add(n)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| {
                    bad(&format!(
                        "truncated: needed {n} bytes at offset {pos} of {}",
                        bytes.len()
                    ))
                })?;
            let s = &bytes[pos..end];
            pos = end;
            Ok(s)
        };
        let u32_of = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes")) as usize;
        if take(8)? != VEC_SNAPSHOT_MAGIC {
            return Err(bad("does not start with the magic bytes VECSNAP1"));
        }
        let needs_reset = match take(1)?[0] {
            0 => false,
            1 => true,
            v => return Err(bad(&format!("needs_reset byte is {v}; expected 0 or 1"))),
        };
        let n_obs = u32_of(take(4)?);
        let obs = take(
            n_obs
                .checked_mul(4)
                .ok_or_else(|| bad("observation count overflows"))?,
        )?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
        let n_envs = u32_of(take(4)?);
        let mut envs = Vec::new();
        for _ in 0..n_envs {
            let len = u32_of(take(4)?);
            envs.push(EnvSnapshot::from_bytes(take(len)?)?);
        }
        if pos != bytes.len() {
            return Err(bad(&format!("{} trailing bytes", bytes.len() - pos)));
        }
        Ok(Self {
            envs,
            obs,
            needs_reset,
        })
    }
}
