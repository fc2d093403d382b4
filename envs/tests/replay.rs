//! Replays the transitions Gymnasium 1.4.0 recorded (`tests/data/gymnasium-classic-control.jsonl`,
//! one JSON object per episode: `env`, `seed`, `max_episode_steps`, `state0`, `reset_obs` and
//! `steps`, each step with `state`, `action`, `next_state`, `obs`, `reward`, `terminated`,
//! `truncated`).
//!
//! * Per step: from the recorded state and action, our next state matches to 1e-12 relative
//!   (absolute 1e-14 near zero), the observation is equal as f32, and the reward and both flags
//!   are equal.
//! * Per episode: started from `state0` and fed the recorded actions, our env ends at the same
//!   step with the same flags, and stays within the same tolerance of the recorded states.

use envs::{Action, Env};
use serde_json::Value;

const DATA: &str = include_str!("data/gymnasium-classic-control.jsonl");
const REL_TOL: f64 = 1e-12;
const ABS_FLOOR: f64 = 1e-14;

struct Rec {
    state: Vec<f64>,
    action: Value,
    next_state: Vec<f64>,
    obs: Vec<f32>,
    reward: f64,
    terminated: bool,
    truncated: bool,
}

struct Episode {
    env: String,
    seed: u64,
    max_episode_steps: u64,
    state0: Vec<f64>,
    steps: Vec<Rec>,
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn episodes() -> Vec<Episode> {
    DATA.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("valid JSON line");
            Episode {
                env: v["env"].as_str().unwrap().to_string(),
                seed: v["seed"].as_u64().unwrap(),
                max_episode_steps: v["max_episode_steps"].as_u64().unwrap(),
                state0: floats(&v["state0"]),
                steps: v["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| Rec {
                        state: floats(&s["state"]),
                        action: s["action"].clone(),
                        next_state: floats(&s["next_state"]),
                        obs: floats(&s["obs"]).into_iter().map(|x| x as f32).collect(),
                        reward: s["reward"].as_f64().unwrap(),
                        terminated: s["terminated"].as_bool().unwrap(),
                        truncated: s["truncated"].as_bool().unwrap(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn step(env: &mut dyn Env, action: &Value, obs: &mut [f32]) -> envs::Step {
    let r = match action.as_u64() {
        Some(a) if action.is_u64() => env.step(Action::Discrete(a as usize), obs),
        _ => env.step(Action::Continuous(&[action.as_f64().unwrap() as f32]), obs),
    };
    r.expect("recorded action is valid")
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours - theirs).abs() <= (REL_TOL * theirs.abs()).max(ABS_FLOOR)
}

#[test]
fn the_data_covers_every_environment() {
    let eps = episodes();
    for id in [
        "CartPole-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "MountainCarContinuous-v0",
        "Pendulum-v1",
    ] {
        let n = eps.iter().filter(|e| e.env == id).count();
        assert!(n >= 5, "{id}: only {n} recorded episodes");
        let spec = envs::spec(id).unwrap();
        for e in eps.iter().filter(|e| e.env == id) {
            assert_eq!(
                e.max_episode_steps, spec.max_episode_steps,
                "{id}: time limit differs from the recording"
            );
        }
    }
}

/// Our reset distributions cover Gymnasium's recorded first states (same support, same rounding).
#[test]
fn recorded_first_states_fit_our_reset_distributions() {
    use std::f64::consts::PI;
    for e in episodes() {
        let s = &e.state0;
        let ok = match e.env.as_str() {
            "CartPole-v1" => s.iter().all(|x| (-0.05..0.05).contains(x)),
            // Acrobot draws in f64 and rounds to f32, as our reset does.
            "Acrobot-v1" => s
                .iter()
                .all(|&x| (-0.1..=0.1).contains(&x) && x as f32 as f64 == x),
            "MountainCar-v0" | "MountainCarContinuous-v0" => {
                (-0.6..-0.4).contains(&s[0]) && s[1] == 0.0
            }
            "Pendulum-v1" => (-PI..PI).contains(&s[0]) && (-1.0..1.0).contains(&s[1]),
            other => panic!("unexpected env {other}"),
        };
        assert!(
            ok,
            "{} seed {}: state0 {s:?} outside our reset distribution",
            e.env, e.seed
        );
    }
}

#[test]
fn every_recorded_step_is_reproduced() {
    let mut worst = 0.0f64;
    let mut inexact = 0;
    let mut n = 0;
    for e in episodes() {
        let mut env = envs::make(&e.env).unwrap();
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(e.seed), &mut obs).unwrap();
        for (i, r) in e.steps.iter().enumerate() {
            env.set_state(&r.state).unwrap();
            let s = step(&mut *env, &r.action, &mut obs);
            let ctx = format!("{} seed {} step {i}", e.env, e.seed);
            for (k, (&ours, &theirs)) in env.state().iter().zip(&r.next_state).enumerate() {
                assert!(
                    close(ours, theirs),
                    "{ctx}: state[{k}] = {ours:e}, recorded {theirs:e}"
                );
                if theirs != 0.0 {
                    worst = worst.max(((ours - theirs) / theirs).abs());
                }
                inexact += (ours.to_bits() != theirs.to_bits()) as usize;
            }
            assert_eq!(env.state().len(), r.next_state.len(), "{ctx}: state length");
            assert_eq!(obs, r.obs, "{ctx}: observation");
            assert_eq!(
                s.reward.to_bits(),
                r.reward.to_bits(),
                "{ctx}: reward {} vs {}",
                s.reward,
                r.reward
            );
            assert_eq!(
                (s.terminated, s.truncated),
                (r.terminated, r.truncated),
                "{ctx}: flags"
            );
            n += 1;
        }
    }
    assert!(n > 9_000, "only {n} steps replayed");
    eprintln!(
        "replayed {n} steps; worst relative state error {worst:e}; {inexact} inexact components"
    );
    // With glibc's libm (the C library NumPy used for the recording) we are exact, not just close.
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert_eq!(
            worst, 0.0,
            "on glibc every recorded state should be reproduced bit for bit"
        );
    }
}

#[test]
fn every_recorded_episode_ends_at_the_same_step_with_the_same_flags() {
    for e in episodes() {
        let mut env = envs::make(&e.env).unwrap();
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(e.seed), &mut obs).unwrap();
        env.set_state(&e.state0).unwrap();
        let ctx = format!("{} seed {}", e.env, e.seed);
        let mut last = None;
        for (i, r) in e.steps.iter().enumerate() {
            let s = step(&mut *env, &r.action, &mut obs);
            for (k, (&ours, &theirs)) in env.state().iter().zip(&r.next_state).enumerate() {
                assert!(
                    close(ours, theirs),
                    "{ctx} step {i}: state[{k}] = {ours:e}, recorded {theirs:e}"
                );
            }
            assert_eq!(
                s.reward.to_bits(),
                r.reward.to_bits(),
                "{ctx} step {i}: reward"
            );
            if s.done() {
                last = Some((i, s.terminated, s.truncated));
                break;
            }
        }
        let rec = e.steps.last().unwrap();
        assert_eq!(
            last,
            Some((e.steps.len() - 1, rec.terminated, rec.truncated)),
            "{ctx}: episode end"
        );
    }
}
