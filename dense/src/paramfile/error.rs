//! What can go wrong reading or writing a parameter file.

use std::fmt;
use std::path::PathBuf;

/// An error from [`super::ParamFile`]: every variant names what was wrong and what was expected.
#[derive(Debug)]
pub enum ParamFileError {
    /// The operating system refused a read, write or rename.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file does not start with the magic bytes.
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The format version is not one this code reads.
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this code reads.
        expected: u32,
    },
    /// The file ends before a field it must contain.
    Truncated {
        /// The field being read.
        what: String,
        /// Byte offset of that field.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// The checksum stored at the end does not match the contents (the file is damaged).
    ChecksumMismatch {
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes actually read.
        computed: u64,
    },
    /// A field holds a value that cannot be right.
    Invalid {
        /// The field.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A tensor the caller asked for is not in the file.
    Missing {
        /// Its name.
        name: String,
    },
    /// A tensor is stored with another element type than asked for.
    WrongDtype {
        /// Its name.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The type in the file.
        found: &'static str,
    },
    /// A tensor has another shape than the model expects.
    ShapeMismatch {
        /// Its name.
        name: String,
        /// The shape the model expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
}

impl fmt::Display for ParamFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamFileError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ParamFileError::BadMagic { found } => write!(
                f,
                "not a parameter file: expected the magic bytes {:?}, found {found:?}",
                super::codec::MAGIC
            ),
            ParamFileError::UnsupportedVersion { found, expected } => write!(
                f,
                "parameter file version {found} is not supported (this code reads version {expected})"
            ),
            ParamFileError::Truncated {
                what,
                offset,
                needed,
                available,
            } => write!(
                f,
                "parameter file truncated: {what} at byte {offset} needs {needed} bytes, only {available} left"
            ),
            ParamFileError::ChecksumMismatch { stored, computed } => write!(
                f,
                "parameter file damaged: stored checksum {stored:#018x}, contents hash to {computed:#018x}"
            ),
            ParamFileError::Invalid { what, detail } => {
                write!(f, "invalid parameter file: {what}: {detail}")
            }
            ParamFileError::Missing { name } => {
                write!(f, "tensor {name:?} is not in the parameter file")
            }
            ParamFileError::WrongDtype {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor {name:?} is stored as {found}, expected {expected}"
            ),
            ParamFileError::ShapeMismatch {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor {name:?} has shape {found:?} in the file, the model expects {expected:?}"
            ),
        }
    }
}

impl std::error::Error for ParamFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParamFileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
