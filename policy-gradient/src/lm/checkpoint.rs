//! The checkpoint of a `pg lm` run: one file, `checkpoints/latest.ckpt`, holding the model and
//! everything the run needs to continue exactly (counters, RNG streams, Adam's moments).
//!
//! One `dense` parameter file (magic number, version, named tensors, checksum) replaced by one
//! rename ([`crate::run::checkpoint`]), so a kill at any instant leaves the previous complete
//! checkpoint or the new one, never a model from one step with a state from another. Entries:
//!
//! | name | dtype | what |
//! |---|---|---|
//! | `lm.version` | u64 | [`VERSION`] |
//! | `model.toml`, `model.toml.len` | u64 | an MLP: its [`ModelSpec`] as TOML, UTF-8 bytes packed 8 per u64 |
//! | `embed` | f32 | an MLP: the embedding table `[V, D]` |
//! | `mlp.layer{i}.weight/.bias` | f32 | an MLP: its layers (`dense::Mlp::save_to`) |
//! | `transformer.toml`, `transformer.toml.len` | u64 | a transformer: its [`TransformerSpec`] as TOML |
//! | `gpt.{name}` | f32 | a transformer: each parameter ([`super::gpt::GptSpec::param_names`]) |
//! | `progress` | u64 | step, sequences, tokens (training checkpoints only) |
//! | `rng.data`, `rng.eval` | u64 | the ChaCha8 streams (training checkpoints only) |
//! | `adam.*` | f64/u64/f32 | the optimiser (training checkpoints only) |
//!
//! The description entry present says the architecture: `model.toml` an MLP (every checkpoint
//! written before the transformer existed), `transformer.toml` a transformer.
//!
//! Loading checks the model description (sizes within [`crate::run::bounds`], the vocabulary of
//! the task it names) before allocating anything by it, and then every tensor's shape against
//! it. A damaged or mismatched file is a one-line error naming the file, never a panic.

use super::gpt::Gpt;
use super::model::{ModelSpec, TokenPolicy};
use super::policy::{LmPolicy, PolicySpec, TransformerPolicy, TransformerSpec};
use crate::error::{PgError, Result};
use crate::run::checkpoint::{bad, get_rng, open, pack_bytes, put_rng, u64s, unpack_text};
use crate::run::config::syntax_error;
use crate::run::dir::resolve_checkpoint;
use autograd::Tensor;
use dense::optim::Adam;
use dense::paramfile::ParamFile;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Version of the layout inside the parameter file.
pub const VERSION: u64 = 1;

const VERSION_ENTRY: &str = "lm.version";

/// The description entry of an MLP.
const MLP_ENTRY: &str = "model.toml";

/// The description entry of a transformer.
const TRANSFORMER_ENTRY: &str = "transformer.toml";

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

/// What a run saves besides the model.
#[derive(Clone, Copy, Debug)]
pub struct TrainState<'a> {
    /// The counters.
    pub progress: Progress,
    /// The named RNG streams.
    pub rngs: &'a [(&'a str, &'a ChaCha8Rng)],
    /// The optimiser.
    pub adam: &'a Adam,
}

/// Writes `policy` (and, for a training checkpoint, `state`) to the file `path` as one unit.
pub fn save(path: &Path, policy: &LmPolicy, state: Option<TrainState<'_>>) -> Result<()> {
    crate::run::checkpoint::save(&policy_file(policy, state), path)
}

/// The entries of a checkpoint of `policy` (and `state`), not yet written: a model built on the
/// policy (the reward model) adds its own entries before saving.
pub fn policy_file(policy: &LmPolicy, state: Option<TrainState<'_>>) -> ParamFile {
    let mut file = ParamFile::new();
    file.insert_u64(VERSION_ENTRY, &[1], &[VERSION]);
    match policy {
        LmPolicy::Mlp(p) => {
            let spec = toml::to_string(p.spec()).expect("a ModelSpec serialises to TOML");
            pack_bytes(&mut file, MLP_ENTRY, spec.as_bytes());
            let e = p.embedding();
            file.insert_f32("embed", e.shape(), e.data());
            p.mlp().save_to(&mut file, "mlp.");
        }
        LmPolicy::Transformer(p) => {
            let spec = toml::to_string(&p.spec).expect("a TransformerSpec serialises to TOML");
            pack_bytes(&mut file, TRANSFORMER_ENTRY, spec.as_bytes());
            for (name, t) in p.spec.gpt.param_names().iter().zip(p.model.params()) {
                file.insert_f32(&format!("gpt.{name}"), t.shape(), t.data());
            }
        }
    }
    if let Some(s) = state {
        let p = s.progress;
        file.insert_u64("progress", &[3], &[p.step, p.samples, p.tokens]);
        for (name, rng) in s.rngs {
            put_rng(&mut file, &format!("rng.{name}"), rng);
        }
        s.adam.save_to(&mut file, "adam.");
    }
    file
}

/// The model description stored in a checkpoint, checked (see the module docs).
fn spec_of(file: &ParamFile, path: &Path) -> Result<PolicySpec> {
    let origin = format!("the model description in {}", path.display());
    if file.get(TRANSFORMER_ENTRY).is_some() {
        let text = unpack_text(file, TRANSFORMER_ENTRY, path)?;
        let spec: TransformerSpec =
            toml::from_str(&text).map_err(|e| syntax_error(&e, &text, &origin))?;
        spec.validate(&origin)?;
        return Ok(PolicySpec::Transformer(spec));
    }
    let text = unpack_text(file, MLP_ENTRY, path)?;
    let spec: ModelSpec = toml::from_str(&text).map_err(|e| syntax_error(&e, &text, &origin))?;
    spec.validate(&origin)?;
    Ok(PolicySpec::Mlp(spec))
}

fn mlp_of(spec: ModelSpec, file: &ParamFile, path: &Path) -> Result<TokenPolicy> {
    let shapes = spec.param_shapes();
    let embed = Tensor::from_slice(
        file.f32("embed", &shapes[0]).map_err(bad(path))?,
        &shapes[0],
    );
    // Start from zeros of the spec's shapes, then let the MLP read its own tensors.
    let zeros: Vec<Tensor<f32>> = shapes[1..].iter().map(|s| Tensor::zeros(s)).collect();
    let mut mlp = TokenPolicy::from_parts(spec.clone(), embed.clone(), zeros)
        .mlp()
        .clone();
    mlp.load_from(file, "mlp.").map_err(bad(path))?;
    Ok(TokenPolicy::from_parts(spec, embed, mlp.params().to_vec()))
}

fn transformer_of(
    spec: TransformerSpec,
    file: &ParamFile,
    path: &Path,
) -> Result<TransformerPolicy> {
    let gpt = spec.gpt;
    let params = gpt
        .param_names()
        .iter()
        .zip(gpt.param_shapes())
        .map(|(name, shape)| {
            let data = file
                .f32(&format!("gpt.{name}"), &shape)
                .map_err(bad(path))?;
            Ok(Tensor::from_slice(data, &shape))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TransformerPolicy {
        spec,
        model: Gpt::from_params(gpt, params),
    })
}

/// The entry a reward model adds to its backbone's: a checkpoint holding it is not a policy.
pub const REWARD_HEAD_ENTRY: &str = "reward.head.weight";

fn policy_of(file: &ParamFile, path: &Path) -> Result<LmPolicy> {
    if file.get(REWARD_HEAD_ENTRY).is_some() {
        return Err(PgError::checkpoint(
            path,
            "holds a reward model (`pg lm reward`), not a policy",
        ));
    }
    backbone_of(file, path)
}

/// The language model stored in `file` (read from `path`), whatever else the file holds: a
/// policy, or the backbone of a reward model.
pub fn backbone_of(file: &ParamFile, path: &Path) -> Result<LmPolicy> {
    let policy = match spec_of(file, path)? {
        PolicySpec::Mlp(spec) => LmPolicy::Mlp(mlp_of(spec, file, path)?),
        PolicySpec::Transformer(spec) => LmPolicy::Transformer(transformer_of(spec, file, path)?),
    };
    let finite = policy
        .param_values()
        .iter()
        .all(|p| p.iter().all(|x| x.is_finite()));
    if !finite {
        return Err(PgError::checkpoint(path, "holds a non-finite parameter"));
    }
    Ok(policy)
}

/// Loads the policy saved at `path`: a checkpoint file or a run directory (its latest).
pub fn load(path: &Path) -> Result<LmPolicy> {
    let (path, file) = open_checkpoint(path)?;
    policy_of(&file, &path)
}

/// Opens the `pg lm` checkpoint at `path` (a checkpoint file or a run directory, its latest):
/// the file's resolved path and its entries, version checked.
pub fn open_checkpoint(path: &Path) -> Result<(std::path::PathBuf, ParamFile)> {
    let path = resolve_checkpoint(path)?;
    let file = open(&path, VERSION_ENTRY, VERSION, "pg lm")?;
    Ok((path, file))
}

/// Loads a training checkpoint: the policy, the counters, the RNG streams named `names` (in that
/// order), and the optimiser's state into `adam`.
pub fn load_training(
    path: &Path,
    names: &[&str],
    adam: &mut Adam,
) -> Result<(LmPolicy, Progress, Vec<ChaCha8Rng>)> {
    let file = open(path, VERSION_ENTRY, VERSION, "pg lm")?;
    let policy = policy_of(&file, path)?;
    let sizes = policy.spec().param_sizes();
    let (progress, rngs) = training_state(&file, path, names, adam, &sizes)?;
    Ok((policy, progress, rngs))
}

/// The training state in `file` (read from `path`): the counters, the RNG streams named
/// `names` (in that order), and the optimiser's state into `adam`, which must fit parameter
/// tensors of `sizes` scalars each (in the optimiser's order).
pub fn training_state(
    file: &ParamFile,
    path: &Path,
    names: &[&str],
    adam: &mut Adam,
    sizes: &[usize],
) -> Result<(Progress, Vec<ChaCha8Rng>)> {
    let [step, samples, tokens] = u64s(file, "progress", path)? else {
        return Err(PgError::checkpoint(
            path,
            "`progress` should hold 3 numbers",
        ));
    };
    let progress = Progress {
        step: *step,
        samples: *samples,
        tokens: *tokens,
    };
    let rngs = names
        .iter()
        .map(|n| get_rng(file, &format!("rng.{n}"), path))
        .collect::<Result<Vec<_>>>()?;
    adam.load_from(file, "adam.").map_err(bad(path))?;
    let (steps, m, v) = adam.state();
    let fits = |b: &[Vec<f32>]| b.iter().map(Vec::len).eq(sizes.iter().copied());
    if !(steps == 0 && m.is_empty() || fits(m) && fits(v)) {
        return Err(PgError::checkpoint(
            path,
            "the optimiser state does not fit the model",
        ));
    }
    Ok((progress, rngs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Activation;
    use dense::optim::AdamConfig;
    use rand::{Rng, SeedableRng};

    fn spec() -> ModelSpec {
        ModelSpec {
            task: "addition".into(),
            vocab: 14,
            context: 4,
            embed_dim: 3,
            hidden_sizes: vec![5],
            activation: Activation::Relu,
        }
    }

    fn policy() -> LmPolicy {
        LmPolicy::Mlp(TokenPolicy::new(spec(), &mut ChaCha8Rng::seed_from_u64(0)))
    }

    /// A tiny transformer for addition (14 tokens).
    fn transformer() -> LmPolicy {
        let spec = PolicySpec::Transformer(TransformerSpec {
            task: "addition".into(),
            gpt: super::super::gpt::GptSpec {
                vocab: 14,
                context: 12,
                width: 8,
                heads: 2,
                layers: 2,
            },
        });
        LmPolicy::new(&spec, &mut ChaCha8Rng::seed_from_u64(0))
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        crate::run::dir::fresh_test_dir(&format!("lm-ckpt-{name}"))
    }

    #[test]
    fn round_trip_is_bit_exact_and_damage_is_an_error() {
        round_trip("rt", policy());
    }

    #[test]
    fn a_transformer_round_trips_and_continues_exactly() {
        round_trip("rt-gpt", transformer());
        continues_exactly("state-gpt", transformer());
    }

    fn round_trip(name: &str, p: LmPolicy) {
        let dir = tmp(name);
        std::fs::write(dir.join("config.toml"), "").unwrap();
        let ckpt = dir.join("checkpoints").join("latest.ckpt");
        save(&ckpt, &p, None).unwrap();
        assert_eq!(load(&ckpt).unwrap(), p);
        assert_eq!(
            load(&dir).unwrap(),
            p,
            "a run directory resolves to its latest checkpoint"
        );
        // A model-only checkpoint cannot resume a run.
        let mut adam = Adam::new(AdamConfig::default());
        assert!(load_training(&ckpt, &["data"], &mut adam).is_err());
        let mut bytes = std::fs::read(&ckpt).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&ckpt, &bytes).unwrap();
        let e = load(&ckpt).unwrap_err().to_string();
        assert!(e.contains("latest.ckpt"), "{e}");
        assert!(load(&dir.join("nothing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn training_state_continues_exactly() {
        continues_exactly("state", policy());
    }

    fn continues_exactly(name: &str, mut p: LmPolicy) {
        let dir = tmp(name);
        let ckpt = dir.join("latest.ckpt");
        let mut a = ChaCha8Rng::seed_from_u64(9);
        a.set_stream(3);
        for _ in 0..37 {
            let _: u32 = a.r#gen();
        }
        let mut adam = Adam::new(AdamConfig::default());
        let grads: Vec<Vec<f32>> = p
            .param_slices_mut()
            .iter()
            .map(|s| vec![0.5; s.len()])
            .collect();
        adam.step(&mut p.param_slices_mut(), &grads);
        let progress = Progress {
            step: 5,
            samples: 80,
            tokens: 300,
        };
        let state = TrainState {
            progress,
            rngs: &[("data", &a)],
            adam: &adam,
        };
        save(&ckpt, &p, Some(state)).unwrap();
        let mut adam2 = Adam::new(AdamConfig::default());
        let (p2, progress2, mut rngs) = load_training(&ckpt, &["data"], &mut adam2).unwrap();
        assert_eq!((p2, progress2), (p, progress));
        assert_eq!(adam2.state(), adam.state());
        let next: Vec<u64> = (0..5).map(|_| a.r#gen()).collect();
        let again: Vec<u64> = (0..5).map(|_| rngs[0].r#gen()).collect();
        assert_eq!(next, again);
        assert!(load_training(&ckpt, &["eval"], &mut adam2).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_model_naming_another_task_or_absurd_sizes_is_refused_before_allocating() {
        let dir = tmp("mismatch");
        let ckpt = dir.join("latest.ckpt");
        // The spec says `reviews` (29 tokens) but the model has addition's 14 outputs.
        let wrong = ModelSpec {
            task: "reviews".into(),
            ..spec()
        };
        let p = TokenPolicy::new(wrong, &mut ChaCha8Rng::seed_from_u64(0));
        save(&ckpt, &LmPolicy::Mlp(p), None).unwrap();
        let e = load(&ckpt).unwrap_err().to_string();
        assert!(e.contains("`vocab`") && e.contains("reviews"), "{e}");
        // A file holding only a model description, and what loading it says.
        let load_description = |text: &[u8]| {
            let mut file = ParamFile::new();
            file.insert_u64(VERSION_ENTRY, &[1], &[VERSION]);
            pack_bytes(&mut file, "model.toml", text);
            file.save(&ckpt).unwrap();
            load(&ckpt).unwrap_err().to_string()
        };
        // A context or a width of 10^12 is refused from the description alone.
        let huge = ModelSpec {
            context: 1_000_000_000_000,
            ..spec()
        };
        let e = load_description(toml::to_string(&huge).unwrap().as_bytes());
        assert!(e.contains("`context`") && e.contains("256"), "{e}");
        let huge = ModelSpec {
            hidden_sizes: vec![1_000_000_000_000],
            ..spec()
        };
        let e = load_description(toml::to_string(&huge).unwrap().as_bytes());
        assert!(e.contains("`hidden_sizes`"), "{e}");
        // A description that is not TOML is one line.
        let e = load_description(b"task = = 1\nvocab = [\n");
        assert!(!e.contains('\n') && e.contains("model description"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
