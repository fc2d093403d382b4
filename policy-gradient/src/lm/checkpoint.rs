//! Saving and loading a token policy: `model.toml` (its [`ModelSpec`]) and `params.bin` (a
//! `dense` parameter file holding `embed` and the MLP's `mlp.layer{i}.weight` / `.bias`) in one
//! checkpoint directory.
//!
//! The parameter file carries a magic number, a version, names, shapes and a checksum, and is
//! written to a temporary file and renamed (see [`dense::paramfile`]); a loaded policy is
//! bit-identical to the saved one. A damaged or mismatched file is an error naming the file and
//! what is wrong, never a panic.

use super::model::{ModelSpec, TokenPolicy};
use crate::error::{PgError, Result};
use autograd::Tensor;
use dense::paramfile::ParamFile;
use std::path::{Path, PathBuf};

/// Saves `policy` into directory `dir` (created if needed).
pub fn save(policy: &TokenPolicy, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| PgError::io(dir, e))?;
    let spec = toml::to_string(policy.spec()).expect("a ModelSpec serialises to TOML");
    let spec_path = dir.join("model.toml");
    let tmp = dir.join("model.toml.tmp");
    std::fs::write(&tmp, spec).map_err(|e| PgError::io(&tmp, e))?;
    std::fs::rename(&tmp, &spec_path).map_err(|e| PgError::io(&spec_path, e))?;
    let mut file = ParamFile::new();
    let e = policy.embedding();
    file.insert_f32("embed", e.shape(), e.data());
    policy.mlp().save_to(&mut file, "mlp.");
    let params_path = dir.join("params.bin");
    file.save(&params_path)
        .map_err(|e| PgError::checkpoint(&params_path, e.to_string()))
}

/// Finds the checkpoint directory: `path` itself if it holds `model.toml`, else
/// `path/checkpoints/latest` (a run directory).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join("model.toml").is_file() {
        return Ok(path.to_path_buf());
    }
    let latest = path.join("checkpoints").join("latest");
    if latest.join("model.toml").is_file() {
        return Ok(latest);
    }
    Err(PgError::checkpoint(
        path,
        "no model.toml here or in checkpoints/latest/ (expected a `pg lm` run or checkpoint directory)",
    ))
}

/// Loads the policy saved in `path` (a checkpoint directory or a run directory).
pub fn load(path: &Path) -> Result<TokenPolicy> {
    let dir = resolve(path)?;
    let spec_path = dir.join("model.toml");
    let text = std::fs::read_to_string(&spec_path).map_err(|e| PgError::io(&spec_path, e))?;
    let spec: ModelSpec = toml::from_str(&text)
        .map_err(|e| PgError::checkpoint(&spec_path, format!("not a model description: {e}")))?;
    let params_path = dir.join("params.bin");
    let bad =
        |e: dense::paramfile::ParamFileError| PgError::checkpoint(&params_path, e.to_string());
    let file = ParamFile::load(&params_path).map_err(bad)?;
    let shapes = spec.param_shapes();
    let embed = Tensor::from_slice(file.f32("embed", &shapes[0]).map_err(bad)?, &shapes[0]);
    // Start from zeros of the spec's shapes, then let the MLP read its own tensors.
    let zeros: Vec<Tensor<f32>> = shapes[1..].iter().map(|s| Tensor::zeros(s)).collect();
    let mut policy = TokenPolicy::from_parts(spec, embed, zeros);
    let mut mlp = policy.mlp().clone();
    mlp.load_from(&file, "mlp.").map_err(bad)?;
    policy = TokenPolicy::from_parts(
        policy.spec().clone(),
        policy.embedding().clone(),
        mlp.params().to_vec(),
    );
    let finite = policy
        .embedding()
        .data()
        .iter()
        .chain(policy.mlp().params().iter().flat_map(|p| p.data()))
        .all(|x| x.is_finite());
    if !finite {
        return Err(PgError::checkpoint(
            &params_path,
            "holds a non-finite parameter",
        ));
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use rand::SeedableRng;

    fn policy() -> TokenPolicy {
        let spec = ModelSpec {
            task: "addition".into(),
            vocab: 14,
            context: 4,
            embed_dim: 3,
            hidden_sizes: vec![5],
            activation: Activation::Relu,
        };
        TokenPolicy::new(spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
    }

    #[test]
    fn round_trip_is_bit_exact_and_damage_is_an_error() {
        let dir = std::env::temp_dir().join(format!("pg-lm-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = policy();
        let ckpt = dir.join("checkpoints").join("latest");
        save(&p, &ckpt).unwrap();
        assert_eq!(load(&ckpt).unwrap(), p);
        assert_eq!(
            load(&dir).unwrap(),
            p,
            "a run directory resolves to its latest checkpoint"
        );
        // A flipped byte in the parameter file.
        let f = ckpt.join("params.bin");
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&f, &bytes).unwrap();
        let e = load(&ckpt).unwrap_err().to_string();
        assert!(e.contains("params.bin"), "{e}");
        // A spec that does not match the parameters.
        save(&p, &ckpt).unwrap();
        let spec = std::fs::read_to_string(ckpt.join("model.toml")).unwrap();
        std::fs::write(ckpt.join("model.toml"), spec.replace("[5]", "[6]")).unwrap();
        let e = load(&ckpt).unwrap_err().to_string();
        assert!(e.contains("params.bin"), "{e}");
        assert!(load(&dir.join("nothing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
