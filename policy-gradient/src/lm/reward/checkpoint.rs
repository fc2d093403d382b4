//! The checkpoint of a reward model: the backbone's policy checkpoint
//! ([`crate::lm::checkpoint`]) plus two entries, one file replaced by one rename.
//!
//! | name | dtype | what |
//! |---|---|---|
//! | every entry of a policy checkpoint | | the backbone (and, in training, the state) |
//! | `reward.head.weight` | f32 | the head's `w`, `[F, 1]` |
//! | `reward.head.bias` | f32 | the head's `b`, `[1]` |
//!
//! The head entry tells a reward model from a policy: loading one as the other is a one-line
//! error.

use super::model::RewardModel;
use crate::error::{PgError, Result};
use crate::lm::checkpoint::{
    Progress, REWARD_HEAD_ENTRY, TrainState, backbone_of, open_checkpoint, policy_file,
    training_state,
};
use crate::run::checkpoint::bad;
use autograd::Tensor;
use dense::optim::Adam;
use dense::paramfile::ParamFile;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// The entry of the head's bias.
const BIAS_ENTRY: &str = "reward.head.bias";

/// Writes `model` (and, for a training checkpoint, `state`) to `path` as one unit.
pub fn save(path: &Path, model: &RewardModel, state: Option<TrainState<'_>>) -> Result<()> {
    let mut file = policy_file(model.backbone(), state);
    let [w, b] = model.head();
    file.insert_f32(REWARD_HEAD_ENTRY, w.shape(), w.data());
    file.insert_f32(BIAS_ENTRY, b.shape(), b.data());
    crate::run::checkpoint::save(&file, path)
}

fn model_of(file: &ParamFile, path: &Path) -> Result<RewardModel> {
    if file.get(REWARD_HEAD_ENTRY).is_none() {
        return Err(PgError::checkpoint(
            path,
            "holds a policy, not a reward model (train one with `pg lm reward`)",
        ));
    }
    let backbone = backbone_of(file, path)?;
    let f = super::model::Backbone::of(&backbone).feature_width();
    let tensor = |name: &str, shape: &[usize]| -> Result<Tensor<f32>> {
        let data = file.f32(name, shape).map_err(bad(path))?;
        if data.iter().any(|x| !x.is_finite()) {
            return Err(PgError::checkpoint(path, "holds a non-finite parameter"));
        }
        Ok(Tensor::from_slice(data, shape))
    };
    let (w, b) = (
        tensor(REWARD_HEAD_ENTRY, &[f, 1])?,
        tensor(BIAS_ENTRY, &[1])?,
    );
    Ok(RewardModel::from_parts(backbone, w, b).expect("the head's shapes were just read"))
}

/// Loads the reward model saved at `path`: a checkpoint file or a `pg lm reward` run directory.
pub fn load(path: &Path) -> Result<RewardModel> {
    let (path, file) = open_checkpoint(path)?;
    model_of(&file, &path)
}

/// Loads a training checkpoint: the model, the counters, the RNG streams `names` and the
/// optimiser's state into `adam`.
pub fn load_training(
    path: &Path,
    names: &[&str],
    adam: &mut Adam,
) -> Result<(RewardModel, Progress, Vec<ChaCha8Rng>)> {
    let (path, file) = open_checkpoint(path)?;
    let model = model_of(&file, &path)?;
    let (progress, rngs) = training_state(&file, &path, names, adam, &model.param_sizes())?;
    Ok((model, progress, rngs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::model::ModelSpec;
    use crate::lm::policy::{LmPolicy, PolicySpec};
    use rand::SeedableRng;

    #[test]
    fn a_reward_model_round_trips_and_is_not_a_policy() {
        let dir = crate::run::dir::fresh_test_dir("rm-ckpt");
        let spec = PolicySpec::Mlp(ModelSpec {
            task: "dialogue".into(),
            vocab: 42,
            context: 3,
            embed_dim: 2,
            hidden_sizes: vec![5],
            activation: crate::config::Activation::Relu,
        });
        let policy = LmPolicy::new(&spec, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let w = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.0, 1.0], &[5, 1]);
        let rm =
            RewardModel::from_parts(policy.clone(), w, Tensor::from_vec(vec![0.25], &[1])).unwrap();
        let path = dir.join("rm.ckpt");
        save(&path, &rm, None).unwrap();
        assert_eq!(load(&path).unwrap(), rm);
        let e = crate::lm::checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains("reward model") && !e.contains('\n'), "{e}");
        let p = dir.join("policy.ckpt");
        crate::lm::checkpoint::save(&p, &policy, None).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("not a reward model"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
