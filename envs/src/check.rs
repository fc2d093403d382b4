//! [`check_env`]: an env checker after Gymnasium's `check_env`, for any [`Env`].
//!
//! It checks that
//! 1. both spaces are well formed;
//! 2. a wrong-length observation buffer is rejected by `reset` and `step`;
//! 3. observations from `reset` (with and without a seed) and from a few hundred steps lie inside
//!    the observation space;
//! 4. the same seed and the same actions give the same trajectory, bit for bit, and a snapshot
//!    restored mid-episode continues exactly as the original did; a seed reaches the reset
//!    generator: two different seeds leave it in two different states (Gymnasium's
//!    `check_reset_seed` compares the generators the same way);
//! 5. invalid actions are errors: out-of-range or wrong-kind discrete actions, wrong-length or NaN
//!    continuous actions;
//! 6. an env waiting for a reset refuses to step with `NeedsReset`: one restored from a snapshot
//!    marked `needs_reset` (the state of a fresh env), and one whose episode ended (terminated or
//!    truncated; checked when an episode ends within the steps tried);
//! 7. the text rendering is not empty and the SVG rendering is one `<svg>` document;
//! 8. every reward is finite (Gymnasium's passive checker warns about NaN and infinite rewards).
//!
//! The checker drives the env with a fixed, deterministic action sequence and leaves it reset.

use crate::env::Env;
use crate::error::{CheckError, EnvError};
use crate::space::{Action, Space};

/// Seed used by the checker.
const CHECK_SEED: u64 = 123;
/// Steps tried when looking for an episode's end.
const MAX_CHECK_STEPS: usize = 5_000;

/// The `t`-th action of the checker's sequence: cycling through a discrete space, sweeping a
/// box (finite bounds; `[-1, 1]` where a bound is infinite).
fn action_at(space: &Space, t: usize, buf: &mut Vec<f32>) -> Option<usize> {
    match space {
        Space::Discrete { n } => Some((t * 7 + t / 3) % n),
        Space::Box { low, high } => {
            buf.clear();
            for (j, (&lo, &hi)) in low.iter().zip(high).enumerate() {
                let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                    (lo, hi)
                } else {
                    (-1.0, 1.0)
                };
                // A deterministic pseudo-random fraction in [0, 1).
                let frac = (((t * 37 + j * 11) % 101) as f32) / 101.0;
                buf.push(lo + (hi - lo) * frac);
            }
            None
        }
    }
}

fn check_space(env: &str, which: &'static str, s: &Space) -> Result<(), CheckError> {
    let err = |reason: String| {
        Err(CheckError::BadSpace {
            env: env.to_string(),
            which,
            reason,
        })
    };
    match s {
        Space::Discrete { n } if *n == 0 => err("discrete space with n = 0".to_string()),
        Space::Discrete { .. } => Ok(()),
        Space::Box { low, high } => {
            if low.len() != high.len() || low.is_empty() {
                return err(format!(
                    "bounds of lengths {} and {}",
                    low.len(),
                    high.len()
                ));
            }
            for (i, (l, h)) in low.iter().zip(high).enumerate() {
                if l.is_nan() || h.is_nan() || l > h {
                    return err(format!("component {i} has bounds [{l}, {h}]"));
                }
            }
            Ok(())
        }
    }
}

fn expect_err(
    env: &str,
    case: &'static str,
    r: Result<impl std::fmt::Debug, EnvError>,
    ok: fn(&EnvError) -> bool,
) -> Result<(), CheckError> {
    match r {
        Err(e) if ok(&e) => Ok(()),
        other => Err(CheckError::MissingError {
            env: env.to_string(),
            case,
            got: format!("{other:?}"),
        }),
    }
}

/// One episode prefix from `CHECK_SEED`: the observations and rewards as bits.
fn trajectory(env: &mut dyn Env, steps: usize) -> Result<Vec<u64>, CheckError> {
    let space = env.action_space();
    let mut obs = vec![0.0f32; env.obs_dim()];
    let mut buf = Vec::new();
    env.reset(Some(CHECK_SEED), &mut obs)?;
    let mut out: Vec<u64> = obs.iter().map(|v| v.to_bits() as u64).collect();
    for t in 0..steps {
        let a = action_at(&space, t, &mut buf);
        let action = a.map_or(Action::Continuous(&buf), Action::Discrete);
        let s = env.step(action, &mut obs)?;
        out.extend(obs.iter().map(|v| v.to_bits() as u64));
        out.push(s.reward.to_bits());
        if s.done() {
            break;
        }
    }
    Ok(out)
}

/// Run the checks listed in the module doc on `env`.
///
/// ```
/// for spec in envs::specs() {
///     let mut env = spec.make();
///     envs::check_env(&mut *env).unwrap();
/// }
/// ```
pub fn check_env(env: &mut dyn Env) -> Result<(), CheckError> {
    let id = env.id().to_string();
    let obs_space = env.observation_space();
    let act_space = env.action_space();
    check_space(&id, "observation", &obs_space)?;
    check_space(&id, "action", &act_space)?;
    let d = env.obs_dim();
    if obs_space.dim() != d {
        return Err(CheckError::BadSpace {
            env: id,
            which: "observation",
            reason: format!(
                "space has {} components but obs_dim() is {d}",
                obs_space.dim()
            ),
        });
    }

    // 2. Buffer lengths.
    let mut wrong = vec![0.0f32; d + 1];
    expect_err(
        &id,
        "reset with a too-long observation buffer",
        env.reset(Some(CHECK_SEED), &mut wrong),
        |e| matches!(e, EnvError::BadBufferLength { .. }),
    )?;
    let mut obs = vec![0.0f32; d];
    env.reset(Some(CHECK_SEED), &mut obs)?;
    let mut buf = Vec::new();
    let a0 = action_at(&act_space, 0, &mut buf);
    let action0 = a0.map_or(Action::Continuous(&buf), Action::Discrete);
    expect_err(
        &id,
        "step with a too-long observation buffer",
        env.step(action0, &mut wrong),
        |e| matches!(e, EnvError::BadBufferLength { .. }),
    )?;

    // 6a. An env waiting for a reset (as a fresh one is) refuses to step: restore the current
    // snapshot marked `needs_reset`, step, then reset again.
    let mut waiting = env.snapshot();
    waiting.needs_reset = true;
    env.restore(&waiting)?;
    expect_err(
        &id,
        "step while waiting for a reset",
        env.step(action0, &mut obs),
        |e| matches!(e, EnvError::NeedsReset { .. }),
    )?;
    env.reset(Some(CHECK_SEED), &mut obs)?;

    // 3. Observations inside the space.
    if !obs_space.contains(&obs) {
        return Err(CheckError::ObservationOutOfSpace {
            env: id,
            during: "reset",
            obs,
        });
    }
    let mut ended = false;
    for t in 0..MAX_CHECK_STEPS {
        let a = action_at(&act_space, t, &mut buf);
        let s = env.step(
            a.map_or(Action::Continuous(&buf), Action::Discrete),
            &mut obs,
        )?;
        if !obs_space.contains(&obs) {
            return Err(CheckError::ObservationOutOfSpace {
                env: id,
                during: "step",
                obs,
            });
        }
        // 8. Finite rewards.
        if !s.reward.is_finite() {
            return Err(CheckError::NonFiniteReward {
                env: id,
                step: t,
                reward: s.reward,
            });
        }
        if s.done() {
            ended = true;
            break;
        }
    }
    // 6. Stepping a finished episode.
    if ended {
        let a = action_at(&act_space, 0, &mut buf);
        let r = env.step(
            a.map_or(Action::Continuous(&buf), Action::Discrete),
            &mut obs,
        );
        expect_err(&id, "step after the episode ended", r, |e| {
            matches!(e, EnvError::NeedsReset { .. })
        })?;
    }
    // 3 again: a reset without a seed (continuing the generator) lands in the space too.
    env.reset(None, &mut obs)?;
    if !obs_space.contains(&obs) {
        return Err(CheckError::ObservationOutOfSpace {
            env: id,
            during: "reset without a seed",
            obs,
        });
    }

    // 4. Determinism and snapshots.
    let first = trajectory(env, 300)?;
    let second = trajectory(env, 300)?;
    if first != second {
        return Err(CheckError::NotDeterministic {
            env: id,
            detail: "two runs from the same seed differ".into(),
        });
    }
    let other_seed = CHECK_SEED + 333;
    env.reset(Some(CHECK_SEED), &mut obs)?;
    let generator = env.snapshot().rng;
    env.reset(Some(other_seed), &mut obs)?;
    if env.snapshot().rng == generator {
        return Err(CheckError::SeedIgnored {
            env: id,
            seeds: (CHECK_SEED, other_seed),
        });
    }
    env.reset(Some(CHECK_SEED + 1), &mut obs)?;
    let mut mid_run = |env: &mut dyn Env, obs: &mut [f32]| -> Result<Vec<u64>, CheckError> {
        let mut out = Vec::new();
        for t in 0..20 {
            let a = action_at(&act_space, t, &mut buf);
            match env.step(a.map_or(Action::Continuous(&buf), Action::Discrete), obs) {
                Ok(s) => {
                    out.extend(obs.iter().map(|v| v.to_bits() as u64));
                    out.push(s.reward.to_bits());
                    if s.done() {
                        env.reset(None, obs)?;
                        out.extend(obs.iter().map(|v| v.to_bits() as u64));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    };
    mid_run(env, &mut obs)?;
    let snap = env.snapshot();
    let saved_obs = obs.clone();
    let a = mid_run(env, &mut obs)?;
    env.restore(&snap)?;
    obs.copy_from_slice(&saved_obs);
    let b = mid_run(env, &mut obs)?;
    if a != b {
        return Err(CheckError::NotDeterministic {
            env: id,
            detail: "a restored snapshot diverged".into(),
        });
    }

    // 5. Invalid actions.
    env.reset(Some(CHECK_SEED), &mut obs)?;
    match &act_space {
        Space::Discrete { n } => {
            expect_err(
                &id,
                "discrete action n",
                env.step(Action::Discrete(*n), &mut obs),
                |e| matches!(e, EnvError::InvalidAction { .. }),
            )?;
            expect_err(
                &id,
                "continuous action for a discrete space",
                env.step(Action::Continuous(&[0.0]), &mut obs),
                |e| matches!(e, EnvError::InvalidAction { .. }),
            )?;
        }
        Space::Box { low, .. } => {
            let too_long = vec![0.0f32; low.len() + 1];
            expect_err(
                &id,
                "continuous action of the wrong length",
                env.step(Action::Continuous(&too_long), &mut obs),
                |e| matches!(e, EnvError::BadBufferLength { .. }),
            )?;
            let nan = vec![f32::NAN; low.len()];
            expect_err(
                &id,
                "NaN action",
                env.step(Action::Continuous(&nan), &mut obs),
                |e| matches!(e, EnvError::InvalidAction { .. }),
            )?;
            expect_err(
                &id,
                "discrete action for a box space",
                env.step(Action::Discrete(0), &mut obs),
                |e| matches!(e, EnvError::InvalidAction { .. }),
            )?;
        }
    }
    env.reset(Some(CHECK_SEED), &mut obs)?;

    // 7. Rendering.
    let svg = env.render_svg();
    if env.render_text().trim().is_empty()
        || !svg.starts_with("<svg")
        || !svg.trim_end().ends_with("</svg>")
    {
        return Err(CheckError::BadRendering {
            env: id,
            svg_start: svg.chars().take(40).collect(),
        });
    }
    Ok(())
}
