//! The byte format of a parameter file (version 1). All integers are little-endian.
//!
//! ```text
//! offset  size        field
//! 0       8           magic  b"DENSEPF\0"
//! 8       4           version (u32) = 1
//! 12      4           number of tensors N (u32)
//! 16      …           N records, each:
//!                       name length L (u32), name (L bytes of UTF-8, unique, L ≤ 65535)
//!                       dtype (u8): 0 = f32, 1 = f64, 2 = u64
//!                       rank R (u8, ≤ 8), then R dimensions (u64 each)
//!                       data: product(dims) elements of the dtype, little-endian
//! end-8   8           checksum (u64): FNV-1a 64 of every byte before it
//! ```
//!
//! The reader checks, in order: length, magic, version, checksum (so any damaged byte is
//! reported as such), then every record's bounds; nothing is trusted before it is checked, so
//! random bytes give an error, never a panic or a huge allocation.

use super::error::ParamFileError;
use super::{Data, Entry};

/// The first eight bytes of every parameter file.
pub const MAGIC: [u8; 8] = *b"DENSEPF\0";
/// The format version written and read by this code.
pub const VERSION: u32 = 1;
/// Longest accepted tensor name, in bytes.
const MAX_NAME: usize = 65_535;
/// Highest accepted rank.
const MAX_RANK: usize = 8;

/// FNV-1a, 64-bit: `h = (h ⊕ byte) · 0x100000001b3` from `h = 0xcbf29ce484222325`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Serialises the entries (already validated by the `ParamFile` that owns them).
pub(super) fn encode(entries: &[Entry]) -> Vec<u8> {
    let payload: usize = entries
        .iter()
        .map(|e| 4 + e.name.len() + 2 + 8 * e.shape.len() + e.data.byte_len())
        .sum();
    let mut out = Vec::with_capacity(16 + payload + 8);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.push(e.data.code());
        out.push(e.shape.len() as u8);
        for &d in &e.shape {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        match &e.data {
            Data::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Data::U64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        }
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A bounds-checked cursor over the file's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(
        &mut self,
        n: usize,
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8], ParamFileError> {
        let available = self.bytes.len() - self.pos;
        if n > available {
            return Err(ParamFileError::Truncated {
                what: what(),
                offset: self.pos,
                needed: n,
                available,
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: impl FnOnce() -> String) -> Result<u8, ParamFileError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: impl FnOnce() -> String) -> Result<u32, ParamFileError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: impl FnOnce() -> String) -> Result<u64, ParamFileError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

fn invalid(what: impl Into<String>, detail: impl Into<String>) -> ParamFileError {
    ParamFileError::Invalid {
        what: what.into(),
        detail: detail.into(),
    }
}

/// Parses and validates a whole file.
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<Entry>, ParamFileError> {
    let min = MAGIC.len() + 4 + 4 + 8;
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(ParamFileError::BadMagic {
            found: bytes[..bytes.len().min(MAGIC.len())].to_vec(),
        });
    }
    if bytes.len() < min {
        return Err(ParamFileError::Truncated {
            what: "header and checksum".into(),
            offset: 0,
            needed: min,
            available: bytes.len(),
        });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(ParamFileError::UnsupportedVersion {
            found: version,
            expected: VERSION,
        });
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    let stored = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
    let computed = fnv1a64(body);
    if stored != computed {
        return Err(ParamFileError::ChecksumMismatch { stored, computed });
    }
    let mut r = Reader {
        bytes: body,
        pos: 12,
    };
    let count = r.u32(|| "tensor count".into())? as usize;
    let mut entries: Vec<Entry> = Vec::new();
    for i in 0..count {
        let name_len = r.u32(|| format!("name length of tensor {i}"))? as usize;
        if name_len > MAX_NAME {
            return Err(invalid(
                format!("name length of tensor {i}"),
                format!("{name_len} bytes, at most {MAX_NAME} allowed"),
            ));
        }
        let name_bytes = r.take(name_len, || format!("name of tensor {i}"))?;
        let name = std::str::from_utf8(name_bytes)
            .map_err(|e| invalid(format!("name of tensor {i}"), format!("not UTF-8 ({e})")))?
            .to_string();
        if entries.iter().any(|e| e.name == name) {
            return Err(invalid(
                format!("tensor {name:?}"),
                "the name appears twice",
            ));
        }
        let code = r.u8(|| format!("dtype of {name:?}"))?;
        let size = Data::size_of_code(code).ok_or_else(|| {
            invalid(
                format!("dtype of {name:?}"),
                format!("code {code}, expected 0 (f32), 1 (f64) or 2 (u64)"),
            )
        })?;
        let rank = r.u8(|| format!("rank of {name:?}"))? as usize;
        if rank > MAX_RANK {
            return Err(invalid(
                format!("rank of {name:?}"),
                format!("{rank}, at most {MAX_RANK} allowed"),
            ));
        }
        let mut shape = Vec::with_capacity(rank);
        let mut numel: u64 = 1;
        for d in 0..rank {
            let dim = r.u64(|| format!("dimension {d} of {name:?}"))?;
            numel = numel.checked_mul(dim).ok_or_else(|| {
                invalid(format!("shape of {name:?}"), "the element count overflows")
            })?;
            shape.push(dim as usize);
        }
        // The data must fit in what is left of the file: checked before allocating anything.
        let left = (body.len() - r.pos) as u64;
        let nbytes = numel
            .checked_mul(size as u64)
            .filter(|&n| n <= left)
            .ok_or_else(|| ParamFileError::Truncated {
                what: format!("data of {name:?} (shape {shape:?})"),
                offset: r.pos,
                needed: numel.saturating_mul(size as u64).min(usize::MAX as u64) as usize,
                available: left as usize,
            })? as usize;
        let raw = r.take(nbytes, || format!("data of {name:?}"))?;
        let data = Data::from_le_bytes(code, raw);
        entries.push(Entry { name, shape, data });
    }
    if r.pos != body.len() {
        return Err(invalid(
            "end of file",
            format!(
                "{} unexpected bytes after the last tensor",
                body.len() - r.pos
            ),
        ));
    }
    Ok(entries)
}
