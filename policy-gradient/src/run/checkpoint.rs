//! The checkpoint unit: one `dense` parameter file holding everything a run needs to continue.
//!
//! Every checkpoint of `pg train` and `pg lm` is a single file (magic number, version, named
//! tensors, checksum), written to `NAME.tmp-PID` beside its final name and renamed over it
//! ([`dense::paramfile::ParamFile::save`]). A kill at any instant therefore leaves either the
//! previous complete checkpoint or the new complete one. Temporary files of a killed writer are
//! removed when the run is next resumed ([`crate::run::dir::RunDir::resume`]).
//!
//! This module holds the pieces both formats use: a layout version entry, text and byte strings
//! packed into u64 words, and ChaCha8 streams (a stream is fully described by its 32-byte seed,
//! its stream number and its word position, so restoring those continues it bit for bit).

use crate::error::{PgError, Result};
use dense::paramfile::{ParamFile, ParamFileError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Turns a parameter-file error into a checkpoint error naming `path`.
pub fn bad(path: &Path) -> impl Fn(ParamFileError) -> PgError + '_ {
    move |e| PgError::checkpoint(path, e.to_string())
}

/// Stores `bytes` as entry `name` (8 bytes per u64 word, little-endian) and its length as
/// `name.len`.
pub fn pack_bytes(file: &mut ParamFile, name: &str, bytes: &[u8]) {
    let words: Vec<u64> = bytes
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect();
    file.insert_u64(name, &[words.len()], &words);
    file.insert_u64(&format!("{name}.len"), &[1], &[bytes.len() as u64]);
}

/// Reads the bytes stored by [`pack_bytes`], checking the length against the words.
pub fn unpack_bytes(file: &ParamFile, name: &str, path: &Path) -> Result<Vec<u8>> {
    let len = u64s(file, &format!("{name}.len"), path)?
        .first()
        .copied()
        .unwrap_or(0);
    let words = u64s(file, name, path)?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let n = bytes.len() as u64;
    if n < len || n >= len.saturating_add(8) {
        return Err(PgError::checkpoint(
            path,
            format!("`{name}` holds {n} bytes, its length says {len}"),
        ));
    }
    Ok(bytes[..len as usize].to_vec())
}

/// Reads text stored by [`pack_bytes`].
pub fn unpack_text(file: &ParamFile, name: &str, path: &Path) -> Result<String> {
    String::from_utf8(unpack_bytes(file, name, path)?)
        .map_err(|_| PgError::checkpoint(path, format!("`{name}` is not UTF-8 text")))
}

/// The u64 words of entry `name`, whatever its shape.
pub fn u64s<'a>(file: &'a ParamFile, name: &str, path: &Path) -> Result<&'a [u64]> {
    let n = file
        .get(name)
        .map(|e| e.shape.iter().product::<usize>())
        .ok_or_else(|| PgError::checkpoint(path, format!("entry `{name}` is missing")))?;
    file.u64(name, &[n]).map_err(bad(path))
}

/// Stores a ChaCha8 stream as entry `name`: the seed as 4 words, the stream number, and the
/// word position as 2 words (high, low).
pub fn put_rng(file: &mut ParamFile, name: &str, rng: &ChaCha8Rng) {
    let mut words: Vec<u64> = rng
        .get_seed()
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let wp = rng.get_word_pos();
    words.extend([rng.get_stream(), (wp >> 64) as u64, wp as u64]);
    file.insert_u64(name, &[7], &words);
}

/// Restores a ChaCha8 stream stored by [`put_rng`].
pub fn get_rng(file: &ParamFile, name: &str, path: &Path) -> Result<ChaCha8Rng> {
    let w = u64s(file, name, path)?;
    if w.len() != 7 {
        return Err(PgError::checkpoint(
            path,
            format!("`{name}` should hold 7 numbers"),
        ));
    }
    let mut seed = [0u8; 32];
    for (chunk, word) in seed.chunks_exact_mut(8).zip(&w[..4]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(w[4]);
    rng.set_word_pos(((w[5] as u128) << 64) | w[6] as u128);
    Ok(rng)
}

/// Reads the parameter file at `path` and checks its layout version entry `version_entry`.
pub fn open(path: &Path, version_entry: &str, version: u64, what: &str) -> Result<ParamFile> {
    if !path.exists() {
        return Err(PgError::checkpoint(
            path,
            "not found (was the run ever checkpointed?)",
        ));
    }
    let f = ParamFile::load(path).map_err(bad(path))?;
    if f.get(version_entry).is_none() {
        return Err(PgError::checkpoint(
            path,
            format!("not a {what} checkpoint (no `{version_entry}` entry)"),
        ));
    }
    let v = u64s(&f, version_entry, path)?;
    if v != [version] {
        return Err(PgError::checkpoint(
            path,
            format!("layout version {v:?}, this pg reads version {version}"),
        ));
    }
    Ok(f)
}

/// Writes `file` to `path` as one unit (temporary file, fsync, rename), creating the directory.
pub fn save(file: &ParamFile, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| PgError::io(dir, e))?;
    }
    file.save(path).map_err(bad(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn bytes_and_rng_streams_round_trip() {
        let p = Path::new("x.ckpt");
        let mut f = ParamFile::new();
        pack_bytes(&mut f, "t", b"hello, world");
        let mut a = ChaCha8Rng::seed_from_u64(9);
        a.set_stream(3);
        for _ in 0..37 {
            let _: u32 = a.r#gen();
        }
        put_rng(&mut f, "rng", &a);
        let f = ParamFile::from_bytes(&f.to_bytes()).unwrap();
        assert_eq!(unpack_text(&f, "t", p).unwrap(), "hello, world");
        let mut b = get_rng(&f, "rng", p).unwrap();
        let next: Vec<u64> = (0..5).map(|_| a.r#gen()).collect();
        let again: Vec<u64> = (0..5).map(|_| b.r#gen()).collect();
        assert_eq!(next, again);
        assert!(get_rng(&f, "other", p).is_err());
        assert!(unpack_bytes(&f, "rng", p).is_err());
    }
}
