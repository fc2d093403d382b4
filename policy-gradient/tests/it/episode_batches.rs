//! Batches of whole episodes (`batch_episodes`): an epoch ends once that many episodes have
//! ended, every step is counted, and a batch too large for the bounds is refused before anything
//! is allocated.

use policy_gradient::config::{Config, Estimator};
use policy_gradient::trainer::Trainer;

fn cartpole(num_envs: usize, batch_episodes: usize) -> Config {
    Config {
        num_envs,
        batch_episodes,
        estimator: Estimator::Reinforce,
        hidden_sizes: vec![16],
        ..Config::preset("CartPole-v1").unwrap()
    }
}

#[test]
fn one_env_collects_exactly_the_whole_episodes() {
    let mut t = Trainer::new(cartpole(1, 3)).unwrap();
    let mut before = 0;
    for _ in 0..5 {
        let m = t.epoch().unwrap();
        assert_eq!(m.episodes, 3, "epoch {}", m.epoch);
        // Every step of the batch belongs to one of its three episodes: none is cut.
        let steps = m.env_steps - before;
        assert_eq!(steps as f64, m.avg_ep_len * 3.0, "epoch {}", m.epoch);
        assert_eq!(t.env_steps(), m.env_steps);
        before = m.env_steps;
    }
}

#[test]
fn several_envs_stop_at_the_first_step_with_enough_episodes() {
    let mut t = Trainer::new(cartpole(4, 6)).unwrap();
    let mut before = 0;
    for _ in 0..5 {
        let m = t.epoch().unwrap();
        assert!(
            m.episodes >= 6,
            "epoch {}: {} episodes",
            m.epoch,
            m.episodes
        );
        // Four envs step together; at most 4 of them end on the last step, so the batch had
        // fewer than 6 before it.
        assert!(
            m.episodes < 6 + 4,
            "epoch {}: {} episodes",
            m.epoch,
            m.episodes
        );
        assert_eq!((m.env_steps - before) % 4, 0);
        before = m.env_steps;
    }
}

#[test]
fn fixed_step_batches_are_unchanged_by_the_key_at_zero() {
    let m = Trainer::new(cartpole(2, 0)).unwrap().epoch().unwrap();
    assert_eq!(m.env_steps, 2 * 250);
}

#[test]
fn too_many_episodes_name_the_key_and_the_bound() {
    // CartPole-v1's time limit is 500 steps: 2001 episodes in one env may take 1,000,500 steps.
    let e = cartpole(1, 2001)
        .validate("the command line")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`batch_episodes") && e.contains("1000000"),
        "{e}"
    );
    cartpole(1, 2000).validate("the command line").unwrap();
    let e = Config::preset("CartPole-v1")
        .unwrap()
        .apply_sets(&["batch_episodes=100000".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_episodes"), "{e}");
}
