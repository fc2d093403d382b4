//! [`VecEnvSnapshot`]: the saved state of a [`crate::VecEnv`] (one [`EnvSnapshot`] per copy plus
//! the observation buffer) and its byte encoding, for trainer checkpoints.

use crate::env::{EnvSnapshot, Reader};
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
        let mut r = Reader::new(bytes, "vector snapshot: ");
        if r.take(8)? != VEC_SNAPSHOT_MAGIC {
            return Err(r.bad("does not start with the magic bytes VECSNAP1"));
        }
        let needs_reset = r.flag("needs_reset")?;
        let n_obs = r.u32()? as usize;
        let obs_bytes = n_obs
            .checked_mul(4)
            .ok_or_else(|| r.bad("observation count overflows"))?;
        let obs = r
            .take(obs_bytes)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let n_envs = r.u32()?;
        let mut envs = Vec::new();
        for _ in 0..n_envs {
            let len = r.u32()? as usize;
            envs.push(EnvSnapshot::from_bytes(r.take(len)?)?);
        }
        r.finish()?;
        Ok(Self {
            envs,
            obs,
            needs_reset,
        })
    }
}
