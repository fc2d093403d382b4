//! PPO in the trainer: with one epoch of one full-batch minibatch it is the vanilla policy-gradient
//! update bit for bit (the ratio is exactly 1 at the first step, and clipping cannot act there);
//! with more epochs it moves the policy further from the one that collected the batch.

use policy_gradient::config::{Config, Update};
use policy_gradient::trainer::Trainer;

/// A small CartPole run whose vanilla update takes one value step (as PPO's one minibatch does).
fn small() -> Config {
    Config {
        num_envs: 4,
        steps_per_env: 50,
        hidden_sizes: vec![16],
        value_iters: 1,
        entropy_coef: 0.01,
        ..Config::preset("CartPole-v1").unwrap()
    }
}

fn as_ppo(c: &Config, epochs: usize, clip_range: f32) -> Config {
    Config {
        update: Update::Ppo,
        update_epochs: epochs,
        minibatch_size: c.num_envs * c.steps_per_env,
        clip_range,
        clip_range_value: 0.0,
        target_kl: 0.0,
        ..c.clone()
    }
}

#[test]
fn one_epoch_of_one_minibatch_is_the_vanilla_update_bit_for_bit() {
    let mut vanilla = Trainer::new(small()).unwrap();
    let want = vanilla.epoch().unwrap();
    for clip in [0.0, 0.2] {
        let mut t = Trainer::new(as_ppo(&small(), 1, clip)).unwrap();
        let got = t.epoch().unwrap();
        assert_eq!(t.policy(), vanilla.policy(), "clip_range {clip}");
        // (The reported policy losses differ by definition: PPO's surrogate is −mean(r·Â),
        // −mean(Â) at r = 1, the vanilla one −mean(Â log π); their gradients agree, as above.)
        assert_eq!(got.entropy, want.entropy);
        assert_eq!(got.grad_norm, want.grad_norm);
        assert_eq!(got.approx_kl, want.approx_kl);
        assert_eq!(got.clip_fraction, 0.0);
    }
}

#[test]
fn more_epochs_move_the_policy_further_and_clipping_engages() {
    let mut one = Trainer::new(as_ppo(&small(), 1, 0.2)).unwrap();
    let mut many = Trainer::new(Config {
        minibatch_size: 50,
        ..as_ppo(&small(), 10, 0.2)
    })
    .unwrap();
    let (a, b) = (one.epoch().unwrap(), many.epoch().unwrap());
    assert!(
        b.approx_kl.abs() > a.approx_kl.abs(),
        "{} vs {}",
        b.approx_kl,
        a.approx_kl
    );
    assert!(b.clip_fraction > 0.0, "{b:?}");
}
