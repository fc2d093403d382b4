//! Damaged checkpoints are errors, never panics, for both formats: random byte flips and
//! truncations (caught by the checksum), and damage behind a valid checksum (entries removed,
//! replaced by other shapes or types, the model description edited), which the loaders must
//! catch themselves.

use dense::optim::{Adam, AdamConfig};
use dense::paramfile::{Data, ParamFile};
use policy_gradient::config::{Activation, Config};
use policy_gradient::lm::checkpoint::{self as lm, Progress, TrainState};
use policy_gradient::lm::model::{ModelSpec, TokenPolicy};
use policy_gradient::lm::policy::LmPolicy;
use policy_gradient::trainer::Trainer;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("pg-damage-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The bytes of a training checkpoint of a tiny LM (with counters, RNGs and Adam state).
fn lm_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let spec = ModelSpec {
            task: "addition".into(),
            vocab: 14,
            context: 3,
            embed_dim: 2,
            hidden_sizes: vec![4],
            activation: Activation::Relu,
        };
        let mut policy = TokenPolicy::new(spec, &mut ChaCha8Rng::seed_from_u64(1));
        let mut adam = Adam::new(AdamConfig::default());
        let grads: Vec<Vec<f32>> = policy
            .param_slices_mut()
            .iter()
            .map(|s| vec![0.1; s.len()])
            .collect();
        adam.step(&mut policy.param_slices_mut(), &grads);
        let rng = ChaCha8Rng::seed_from_u64(2);
        let rngs = [("data", &rng), ("eval", &rng)];
        let state = TrainState {
            progress: Progress {
                step: 3,
                samples: 30,
                tokens: 90,
            },
            rngs: &rngs,
            adam: &adam,
        };
        let p = dir().join("lm-good.ckpt");
        lm::save(&p, &LmPolicy::Mlp(policy), Some(state)).unwrap();
        std::fs::read(&p).unwrap()
    })
}

/// The bytes of a `pg train` checkpoint after one epoch.
fn control_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let c = Config {
            num_envs: 2,
            steps_per_env: 10,
            hidden_sizes: vec![4],
            normalize_observations: true,
            ..Config::preset("CartPole-v1").unwrap()
        };
        let mut t = Trainer::new(c).unwrap();
        t.epoch().unwrap();
        let p = dir().join("control-good.ckpt");
        policy_gradient::checkpoint::save(&t, &p).unwrap();
        std::fs::read(&p).unwrap()
    })
}

/// Loads `bytes` as an LM checkpoint both ways; the results may be errors, never panics.
fn load_lm(bytes: &[u8], name: &str) {
    let p = dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    let _ = lm::load(&p);
    let mut adam = Adam::new(AdamConfig::default());
    let _ = lm::load_training(&p, &["data", "eval"], &mut adam);
}

fn load_control(bytes: &[u8], name: &str) {
    let p = dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    let _ = policy_gradient::checkpoint::load(&p, None);
}

/// One damage behind a valid checksum: what to do to entry `index` of the file.
#[derive(Clone, Debug)]
enum Damage {
    Remove,
    Reshape(Vec<usize>),
    ToU64(Vec<u64>),
    ToF32(Vec<f32>),
    EditText { at: usize, byte: u8 },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::Remove),
        proptest::collection::vec(0usize..6, 0..3).prop_map(Damage::Reshape),
        proptest::collection::vec(any::<u64>(), 0..8).prop_map(Damage::ToU64),
        proptest::collection::vec(any::<f32>(), 0..8).prop_map(Damage::ToF32),
        (any::<usize>(), 32u8..127).prop_map(|(at, byte)| Damage::EditText { at, byte }),
    ]
}

/// Rebuilds the file of `bytes` with entry `index` damaged (the checksum is recomputed).
fn damaged(bytes: &[u8], index: usize, d: &Damage) -> Vec<u8> {
    let file = ParamFile::from_bytes(bytes).unwrap();
    let entries = file.entries().to_vec();
    let index = index % entries.len();
    let mut out = ParamFile::new();
    for (i, e) in entries.into_iter().enumerate() {
        if i != index {
            out.insert(&e.name, &e.shape, e.data);
            continue;
        }
        match d {
            Damage::Remove => {}
            Damage::Reshape(shape) => {
                let n: usize = shape.iter().product();
                out.insert(&e.name, shape, Data::F32(vec![0.5; n]));
            }
            Damage::ToU64(v) => out.insert(&e.name, &[v.len()], Data::U64(v.clone())),
            Damage::ToF32(v) => out.insert(&e.name, &[v.len()], Data::F32(v.clone())),
            Damage::EditText { at, byte } => {
                let mut data = e.data.clone();
                if let Data::U64(words) = &mut data
                    && !words.is_empty()
                {
                    let w = at % words.len();
                    let mut b = words[w].to_le_bytes();
                    b[at % 8] = *byte;
                    words[w] = u64::from_le_bytes(b);
                }
                out.insert(&e.name, &e.shape, data);
            }
        }
    }
    out.to_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn lm_byte_flips_and_truncations_never_panic(at in any::<usize>(), mask in 1u8.., cut in any::<usize>()) {
        let good = lm_bytes();
        let mut flipped = good.to_vec();
        flipped[at % good.len()] ^= mask;
        load_lm(&flipped, "lm-flip.ckpt");
        load_lm(&good[..cut % good.len()], "lm-cut.ckpt");
    }

    #[test]
    fn lm_damage_behind_a_valid_checksum_never_panics(index in any::<usize>(), d in damage()) {
        load_lm(&damaged(lm_bytes(), index, &d), "lm-damaged.ckpt");
    }

    #[test]
    fn control_damage_behind_a_valid_checksum_never_panics(index in any::<usize>(), d in damage()) {
        load_control(&damaged(control_bytes(), index, &d), "control-damaged.ckpt");
    }
}

#[test]
fn the_good_files_load() {
    let p: &Path = &dir().join("lm-ok.ckpt");
    std::fs::write(p, lm_bytes()).unwrap();
    let mut adam = Adam::new(AdamConfig::default());
    let (_, progress, _) = lm::load_training(p, &["data", "eval"], &mut adam).unwrap();
    assert_eq!(progress.step, 3);
    let c = dir().join("control-ok.ckpt");
    std::fs::write(&c, control_bytes()).unwrap();
    assert_eq!(
        policy_gradient::checkpoint::load(&c, None)
            .unwrap()
            .epochs_done(),
        1
    );
}
