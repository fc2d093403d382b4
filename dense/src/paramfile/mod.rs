//! Parameter files: named tensors saved in a small documented binary format (see `codec.rs` for
//! the byte layout), with a magic number, a version, names, dtypes, shapes and a checksum.
//!
//! [`ParamFile::save`] writes to a temporary file in the same directory, flushes it to disk and
//! renames it over the destination, so a crash leaves either the old file or the new one, never
//! half of one. [`ParamFile::load`] and [`ParamFile::from_bytes`] return a [`ParamFileError`]
//! for a truncated, damaged or foreign file, never panic.
//!
//! ```
//! use dense::paramfile::ParamFile;
//! let mut f = ParamFile::new();
//! f.insert_f32("layer0.weight", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! f.insert_u64("adam.step", &[1], &[42]);
//! let bytes = f.to_bytes();
//! let back = ParamFile::from_bytes(&bytes).unwrap();
//! assert_eq!(back.f32("layer0.weight", &[2, 3]).unwrap()[4], 5.0);
//! assert_eq!(back.u64("adam.step", &[1]).unwrap(), &[42]);
//! assert!(ParamFile::from_bytes(&bytes[..bytes.len() - 1]).is_err());
//! ```

pub(crate) mod codec;
mod error;

pub use codec::{MAGIC, VERSION, fnv1a64};
pub use error::ParamFileError;

use std::io::Write;
use std::path::Path;

/// The values of one tensor, with their element type.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// 32-bit floats (parameters, optimiser moments).
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// Unsigned integers (step counters, RNG state).
    U64(Vec<u64>),
}

impl Data {
    /// The dtype's name.
    pub fn dtype(&self) -> &'static str {
        match self {
            Data::F32(_) => "f32",
            Data::F64(_) => "f64",
            Data::U64(_) => "u64",
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::U64(v) => v.len(),
        }
    }
    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn code(&self) -> u8 {
        match self {
            Data::F32(_) => 0,
            Data::F64(_) => 1,
            Data::U64(_) => 2,
        }
    }
    fn size_of_code(code: u8) -> Option<usize> {
        match code {
            0 => Some(4),
            1 | 2 => Some(8),
            _ => None,
        }
    }
    fn byte_len(&self) -> usize {
        self.len() * Self::size_of_code(self.code()).expect("known code")
    }
    /// Decodes `raw` (whose length is a multiple of the element size) for a known code.
    fn from_le_bytes(code: u8, raw: &[u8]) -> Data {
        match code {
            0 => Data::F32(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect(),
            ),
            1 => Data::F64(
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            ),
            _ => Data::U64(
                raw.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            ),
        }
    }
}

/// One named tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Unique name, e.g. `"policy.layer0.weight"`.
    pub name: String,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Data,
}

/// An in-memory set of named tensors, in insertion order, that reads and writes parameter files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamFile {
    entries: Vec<Entry>,
}

impl ParamFile {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// All entries in insertion (and file) order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Adds or replaces a tensor. Panics, naming the values, if the shape's element count is not
    /// the data length, the name is longer than 65535 bytes or the rank above 8.
    #[track_caller]
    pub fn insert(&mut self, name: &str, shape: &[usize], data: Data) {
        let numel: usize = shape.iter().product();
        assert!(
            numel == data.len(),
            "ParamFile::insert({name:?}): shape {shape:?} has {numel} elements, the data has {}",
            data.len()
        );
        assert!(
            name.len() <= 65_535,
            "ParamFile::insert: name longer than 65535 bytes"
        );
        assert!(
            shape.len() <= 8,
            "ParamFile::insert({name:?}): rank {} > 8",
            shape.len()
        );
        let entry = Entry {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        };
        match self.entries.iter_mut().find(|e| e.name == name) {
            Some(e) => *e = entry,
            None => self.entries.push(entry),
        }
    }

    /// Adds or replaces an `f32` tensor.
    #[track_caller]
    pub fn insert_f32(&mut self, name: &str, shape: &[usize], data: &[f32]) {
        self.insert(name, shape, Data::F32(data.to_vec()));
    }

    /// Adds or replaces an `f64` tensor.
    #[track_caller]
    pub fn insert_f64(&mut self, name: &str, shape: &[usize], data: &[f64]) {
        self.insert(name, shape, Data::F64(data.to_vec()));
    }

    /// Adds or replaces a `u64` tensor.
    #[track_caller]
    pub fn insert_u64(&mut self, name: &str, shape: &[usize], data: &[u64]) {
        self.insert(name, shape, Data::U64(data.to_vec()));
    }

    /// The entry called `name` with exactly `shape`, or an error naming what differs.
    fn expect(&self, name: &str, shape: &[usize]) -> Result<&Entry, ParamFileError> {
        let e = self.get(name).ok_or_else(|| ParamFileError::Missing {
            name: name.to_string(),
        })?;
        if e.shape != shape {
            return Err(ParamFileError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: e.shape.clone(),
            });
        }
        Ok(e)
    }

    fn wrong(name: &str, expected: &'static str, e: &Entry) -> ParamFileError {
        ParamFileError::WrongDtype {
            name: name.to_string(),
            expected,
            found: e.data.dtype(),
        }
    }

    /// The `f32` values of `name`, which must have `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<&[f32], ParamFileError> {
        let e = self.expect(name, shape)?;
        match &e.data {
            Data::F32(v) => Ok(v),
            _ => Err(Self::wrong(name, "f32", e)),
        }
    }

    /// The shape and `f32` values of `name`, whatever its shape.
    pub fn f32_any_shape(&self, name: &str) -> Result<(&[usize], &[f32]), ParamFileError> {
        let e = self.get(name).ok_or_else(|| ParamFileError::Missing {
            name: name.to_string(),
        })?;
        match &e.data {
            Data::F32(v) => Ok((&e.shape, v)),
            _ => Err(Self::wrong(name, "f32", e)),
        }
    }

    /// The `f64` values of `name`, which must have `shape`.
    pub fn f64(&self, name: &str, shape: &[usize]) -> Result<&[f64], ParamFileError> {
        let e = self.expect(name, shape)?;
        match &e.data {
            Data::F64(v) => Ok(v),
            _ => Err(Self::wrong(name, "f64", e)),
        }
    }

    /// The `u64` values of `name`, which must have `shape`.
    pub fn u64(&self, name: &str, shape: &[usize]) -> Result<&[u64], ParamFileError> {
        let e = self.expect(name, shape)?;
        match &e.data {
            Data::U64(v) => Ok(v),
            _ => Err(Self::wrong(name, "u64", e)),
        }
    }

    /// The file's bytes (format in `codec.rs`).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(&self.entries)
    }

    /// Parses a file's bytes, validating everything.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParamFileError> {
        Ok(ParamFile {
            entries: codec::decode(bytes)?,
        })
    }

    /// Writes the file atomically: to `<path>.tmp-<pid>` in the same directory, `fsync`, then
    /// rename over `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ParamFileError> {
        let path = path.as_ref();
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| ParamFileError::Io { path: p, source }
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&self.to_bytes()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io(path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Reads and validates a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ParamFileError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ParamFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }
}
