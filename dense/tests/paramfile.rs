//! Parameter files: bit-exact round trips, and clear errors (never panics) for random bytes,
//! truncations and single-byte damage.

use dense::paramfile::{Data, ParamFile, ParamFileError};
use proptest::prelude::*;

fn sample() -> ParamFile {
    let mut f = ParamFile::new();
    f.insert_f32(
        "w",
        &[2, 3],
        &[1.0, -0.0, f32::NAN, f32::INFINITY, 1e-45, 3.5],
    );
    f.insert_f64("x", &[], &[std::f64::consts::PI]);
    f.insert_u64("step", &[1], &[u64::MAX]);
    f.insert_f32("empty", &[0, 4], &[]);
    f
}

fn same_bits(a: &ParamFile, b: &ParamFile) -> bool {
    a.entries().len() == b.entries().len()
        && a.entries().iter().zip(b.entries()).all(|(x, y)| {
            x.name == y.name
                && x.shape == y.shape
                && match (&x.data, &y.data) {
                    (Data::F32(p), Data::F32(q)) => p
                        .iter()
                        .map(|v| v.to_bits())
                        .eq(q.iter().map(|v| v.to_bits())),
                    (Data::F64(p), Data::F64(q)) => p
                        .iter()
                        .map(|v| v.to_bits())
                        .eq(q.iter().map(|v| v.to_bits())),
                    (Data::U64(p), Data::U64(q)) => p == q,
                    _ => false,
                }
        })
}

#[test]
fn round_trip_is_bit_exact_in_memory_and_on_disk() {
    let f = sample();
    let back = ParamFile::from_bytes(&f.to_bytes()).unwrap();
    assert!(same_bits(&f, &back));
    let dir = std::env::temp_dir().join(format!("dense-paramfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.bin");
    f.save(&path).unwrap();
    // Overwriting goes through a temporary file and a rename; nothing else is left behind.
    f.save(&path).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("p.bin")]);
    assert!(same_bits(&f, &ParamFile::load(&path).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_name_the_problem() {
    let f = sample();
    let bytes = f.to_bytes();
    let e = ParamFile::from_bytes(b"hello world, not a file").unwrap_err();
    assert!(matches!(e, ParamFileError::BadMagic { .. }), "{e}");
    let mut v = bytes.clone();
    v[8] = 9;
    let e = ParamFile::from_bytes(&v).unwrap_err();
    assert!(e.to_string().contains("version 9"), "{e}");
    let mut v = bytes.clone();
    let mid = v.len() / 2;
    v[mid] ^= 0x40;
    let e = ParamFile::from_bytes(&v).unwrap_err();
    assert!(matches!(e, ParamFileError::ChecksumMismatch { .. }), "{e}");
    let e = ParamFile::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(!e.to_string().is_empty());
    let e = f.f32("w", &[3, 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor \"w\" has shape [2, 3] in the file, the model expects [3, 2]"
    );
    let e = f.f32("step", &[1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor \"step\" is stored as u64, expected f32"
    );
    let e = f.f32("nope", &[1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tensor \"nope\" is not in the parameter file"
    );
    let e = ParamFile::load("/nonexistent/dir/p.bin").unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/dir/p.bin"), "{e}");
}

/// A structurally wrong body with a valid checksum is still caught by the parser.
#[test]
fn wrong_structure_with_valid_checksum_is_an_error() {
    let mut v = b"DENSEPF\0".to_vec();
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes()); // one tensor
    v.extend_from_slice(&1u32.to_le_bytes());
    v.push(b'a');
    v.push(0); // f32
    v.push(1); // rank 1
    v.extend_from_slice(&u64::MAX.to_le_bytes()); // absurd dimension
    let sum = dense::paramfile::fnv1a64(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    let e = ParamFile::from_bytes(&v).unwrap_err();
    assert!(e.to_string().contains("\"a\""), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
        let mut b = bytes;
        if magic {
            let mut v = b"DENSEPF\0".to_vec();
            v.extend_from_slice(&1u32.to_le_bytes());
            v.extend_from_slice(&b);
            b = v;
        }
        prop_assert!(ParamFile::from_bytes(&b).is_err());
    }

    #[test]
    fn every_truncation_is_an_error(cut in 0usize..1000) {
        let bytes = sample().to_bytes();
        let cut = cut % bytes.len();
        prop_assert!(ParamFile::from_bytes(&bytes[..cut]).is_err());
    }

    #[test]
    fn any_single_byte_damage_is_an_error(pos in 0usize..1000, flip in 1u8..=255) {
        let mut bytes = sample().to_bytes();
        let pos = pos % bytes.len();
        bytes[pos] ^= flip;
        prop_assert!(ParamFile::from_bytes(&bytes).is_err());
    }

    #[test]
    fn random_tensors_round_trip(vals in proptest::collection::vec(any::<u32>(), 0..50), rows in 1usize..4) {
        let mut f = ParamFile::new();
        let data: Vec<f32> = vals.iter().map(|&b| f32::from_bits(b)).collect();
        let n = data.len() / rows * rows;
        f.insert_f32("t", &[rows, n / rows], &data[..n]);
        let back = ParamFile::from_bytes(&f.to_bytes()).unwrap();
        prop_assert!(same_bits(&f, &back));
    }
}
