//! The contract of the public API: registry, errors, time limits, reproducibility, snapshots,
//! clipping, reset distributions, and the env checker on every registered env.

use envs::classic_control::{CartPole, MountainCarContinuous, Pendulum};
use envs::{Action, Env, EnvError, EnvSnapshot, TimeLimit};

const IDS: [&str; 6] = [
    "CartPole-v0",
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
];

/// A deterministic action for step `t` of any env.
fn act(env: &dyn Env, t: usize, buf: &mut [f32; 1]) -> Option<usize> {
    match env.action_space() {
        envs::Space::Discrete { n } => Some((t * 5 + t / 4) % n),
        envs::Space::Box { low, high } => {
            buf[0] = low[0] + (high[0] - low[0]) * ((t * 13 % 17) as f32 / 16.0);
            None
        }
    }
}

fn step_t(env: &mut dyn Env, t: usize, obs: &mut [f32]) -> Result<envs::Step, EnvError> {
    let mut buf = [0.0f32];
    match act(env, t, &mut buf) {
        Some(a) => env.step(Action::Discrete(a), obs),
        None => env.step(Action::Continuous(&buf), obs),
    }
}

/// Observations and rewards (as bits) of `steps` steps from `seed`, resetting at episode ends.
fn rollout(env: &mut dyn Env, seed: Option<u64>, steps: usize) -> Vec<u64> {
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(seed, &mut obs).unwrap();
    let mut out: Vec<u64> = obs.iter().map(|v| v.to_bits() as u64).collect();
    for t in 0..steps {
        let s = step_t(env, t, &mut obs).unwrap();
        out.extend(obs.iter().map(|v| v.to_bits() as u64));
        out.push(s.reward.to_bits());
        out.push(s.terminated as u64 * 2 + s.truncated as u64);
        if s.terminated || s.truncated {
            env.reset(None, &mut obs).unwrap();
            out.extend(obs.iter().map(|v| v.to_bits() as u64));
        }
    }
    out
}

#[test]
fn registry_lists_gymnasium_limits_and_thresholds() {
    let want = [
        ("CartPole-v0", 200, Some(195.0)),
        ("CartPole-v1", 500, Some(475.0)),
        ("Acrobot-v1", 500, Some(-100.0)),
        ("MountainCar-v0", 200, Some(-110.0)),
        ("MountainCarContinuous-v0", 999, Some(90.0)),
        ("Pendulum-v1", 200, None),
    ];
    assert_eq!(envs::specs().len(), want.len());
    for (id, steps, threshold) in want {
        let s = envs::spec(id).unwrap();
        assert_eq!(
            (s.max_episode_steps, s.reward_threshold),
            (steps, threshold),
            "{id}"
        );
        let env = envs::make(id).unwrap();
        assert_eq!(env.id(), id);
        assert_eq!(env.max_episode_steps(), Some(steps));
        assert_eq!(s.make_unlimited().max_episode_steps(), None);
    }
}

#[test]
fn unknown_id_names_the_id_and_lists_the_known_ones() {
    let err = envs::make("CartPole-v2").err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("\"CartPole-v2\""), "{msg}");
    for id in IDS {
        assert!(msg.contains(id), "{msg} should list {id}");
    }
    assert!(matches!(err, EnvError::UnknownId { known, .. } if known.len() == IDS.len()));
}

#[test]
fn every_env_passes_the_checker_with_and_without_time_limit() {
    for spec in envs::specs() {
        envs::check_env(&mut *spec.make()).unwrap_or_else(|e| panic!("{}: {e}", spec.id));
        envs::check_env(&mut *spec.make_unlimited())
            .unwrap_or_else(|e| panic!("{} unlimited: {e}", spec.id));
    }
}

#[test]
fn same_seed_same_episode_different_seed_different_episode() {
    for id in IDS {
        let a = rollout(&mut *envs::make(id).unwrap(), Some(5), 400);
        let b = rollout(&mut *envs::make(id).unwrap(), Some(5), 400);
        let c = rollout(&mut *envs::make(id).unwrap(), Some(6), 400);
        assert_eq!(a, b, "{id}: same seed, different rollouts");
        assert_ne!(a, c, "{id}: different seeds, same rollout");
        // Reseeding an env that has already run gives the same rollout again.
        let mut env = envs::make(id).unwrap();
        rollout(&mut *env, Some(99), 50);
        assert_eq!(
            rollout(&mut *env, Some(5), 400),
            a,
            "{id}: reseeding did not restart the stream"
        );
    }
}

#[test]
fn unseeded_reset_before_any_seed_uses_the_default_seed() {
    let a = rollout(&mut *envs::make("CartPole-v1").unwrap(), None, 100);
    let b = rollout(
        &mut *envs::make("CartPole-v1").unwrap(),
        Some(envs::rng::DEFAULT_SEED),
        100,
    );
    assert_eq!(a, b);
}

#[test]
fn invalid_inputs_are_errors_naming_env_value_and_range() {
    let mut obs = [0.0f32; 4];
    let mut env = envs::make("CartPole-v1").unwrap();
    // Before reset.
    let e = env.step(Action::Discrete(0), &mut obs).unwrap_err();
    assert!(
        matches!(
            e,
            EnvError::NeedsReset {
                env: "CartPole-v1",
                ..
            }
        ),
        "{e:?}"
    );
    env.reset(Some(0), &mut obs).unwrap();
    // Out-of-range discrete action.
    let e = env.step(Action::Discrete(2), &mut obs).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("CartPole-v1") && msg.contains('2') && msg.contains("0..2"),
        "{msg}"
    );
    // Wrong kind.
    assert!(matches!(
        env.step(Action::Continuous(&[0.0]), &mut obs),
        Err(EnvError::InvalidAction { .. })
    ));
    // Wrong observation buffer.
    let mut short = [0.0f32; 3];
    let e = env.step(Action::Discrete(0), &mut short).unwrap_err();
    assert_eq!(
        e,
        EnvError::BadBufferLength {
            env: "CartPole-v1",
            buffer: "observation",
            got: 3,
            expected: 4
        }
    );
    assert!(
        e.to_string().contains("length 3") && e.to_string().contains("length 4"),
        "{e}"
    );
    assert!(env.reset(None, &mut short).is_err());
    // The failed calls changed nothing: the episode continues.
    env.step(Action::Discrete(0), &mut obs).unwrap();

    // Continuous: wrong length, NaN, wrong kind.
    let mut obs3 = [0.0f32; 3];
    let mut p = envs::make("Pendulum-v1").unwrap();
    p.reset(Some(0), &mut obs3).unwrap();
    let e = p
        .step(Action::Continuous(&[0.0, 1.0]), &mut obs3)
        .unwrap_err();
    assert_eq!(
        e,
        EnvError::BadBufferLength {
            env: "Pendulum-v1",
            buffer: "action",
            got: 2,
            expected: 1
        }
    );
    let e = p
        .step(Action::Continuous(&[f32::NAN]), &mut obs3)
        .unwrap_err();
    assert!(
        e.to_string().contains("NaN") && e.to_string().contains("[-2, 2]"),
        "{e}"
    );
    assert!(matches!(
        p.step(Action::Discrete(0), &mut obs3),
        Err(EnvError::InvalidAction { .. })
    ));

    // Bad states.
    let e = env.set_state(&[0.0, f64::NAN, 0.0, 0.0]).unwrap_err();
    assert!(
        matches!(e, EnvError::InvalidState { index: 1, .. }),
        "{e:?}"
    );
    assert!(matches!(
        env.set_state(&[0.0; 3]),
        Err(EnvError::BadBufferLength {
            buffer: "state",
            ..
        })
    ));
}

#[test]
fn stepping_after_termination_or_truncation_needs_a_reset() {
    let mut obs = [0.0f32; 4];
    let mut env = envs::make("CartPole-v1").unwrap();
    env.reset(Some(0), &mut obs).unwrap();
    let mut t = 0;
    while !env.step(Action::Discrete(1), &mut obs).unwrap().terminated {
        t += 1;
        assert!(t < 500, "always pushing right must topple the pole");
    }
    let e = env.step(Action::Discrete(1), &mut obs).unwrap_err();
    assert!(
        matches!(e, EnvError::NeedsReset { .. }) && e.to_string().contains("terminated"),
        "{e}"
    );
    env.reset(None, &mut obs).unwrap();
    env.step(Action::Discrete(1), &mut obs).unwrap();

    let mut obs3 = [0.0f32; 3];
    let mut p = envs::make("Pendulum-v1").unwrap();
    p.reset(Some(0), &mut obs3).unwrap();
    for i in 1..=200 {
        let s = p.step(Action::Continuous(&[0.0]), &mut obs3).unwrap();
        assert_eq!(s.truncated, i == 200, "step {i}");
        assert!(!s.terminated);
        assert_eq!(p.elapsed_steps(), Some(i));
    }
    let e = p.step(Action::Continuous(&[0.0]), &mut obs3).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    p.reset(None, &mut obs3).unwrap();
    assert_eq!(p.elapsed_steps(), Some(0));
}

#[test]
fn truncated_and_terminated_can_both_be_true() {
    let mut env = TimeLimit::new(CartPole::new("CartPole-v1"), 3);
    let mut obs = [0.0f32; 4];
    env.reset(Some(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    env.step(Action::Discrete(0), &mut obs).unwrap();
    // Put the cart at the edge, moving out: the third step both terminates and hits the limit.
    env.set_state(&[2.39, 1.0, 0.0, 0.0]).unwrap();
    let s = env.step(Action::Discrete(1), &mut obs).unwrap();
    assert!(s.terminated && s.truncated, "{s:?}");
    assert_eq!(s.reward, 1.0);
}

#[test]
fn reset_distributions_match_gymnasium_ranges() {
    let mut obs4 = [0.0f32; 4];
    let mut obs6 = [0.0f32; 6];
    let mut obs2 = [0.0f32; 2];
    let mut obs3 = [0.0f32; 3];
    let mut cp = envs::make("CartPole-v1").unwrap();
    let mut ac = envs::make("Acrobot-v1").unwrap();
    let mut mc = envs::make("MountainCar-v0").unwrap();
    let mut pe = envs::make("Pendulum-v1").unwrap();
    let (mut min_th, mut max_th) = (0.0f64, 0.0f64);
    for seed in 0..500 {
        cp.reset(Some(seed), &mut obs4).unwrap();
        assert!(
            cp.state().iter().all(|x| (-0.05..0.05).contains(x)),
            "{:?}",
            cp.state()
        );
        ac.reset(Some(seed), &mut obs6).unwrap();
        for &x in ac.state() {
            assert!(
                (-0.1..=0.1).contains(&x) && x as f32 as f64 == x,
                "Acrobot reset {x} not an f32 in range"
            );
        }
        mc.reset(Some(seed), &mut obs2).unwrap();
        assert!((-0.6..-0.4).contains(&mc.state()[0]) && mc.state()[1] == 0.0);
        pe.reset(Some(seed), &mut obs3).unwrap();
        let [th, thdot] = [pe.state()[0], pe.state()[1]];
        assert!(
            (-std::f64::consts::PI..std::f64::consts::PI).contains(&th)
                && (-1.0..1.0).contains(&thdot)
        );
        min_th = min_th.min(th);
        max_th = max_th.max(th);
    }
    // The whole range is used, not a corner of it.
    assert!(min_th < -3.0 && max_th > 3.0, "{min_th} {max_th}");
}

#[test]
fn pendulum_clips_the_torque_before_the_cost_and_the_dynamics() {
    let mut obs = [0.0f32; 3];
    let run = |u: f32, obs: &mut [f32; 3]| {
        let mut p = Pendulum::new();
        p.reset(Some(0), obs).unwrap();
        p.set_state(&[0.5, 0.1]).unwrap();
        let s = p.step(Action::Continuous(&[u]), obs).unwrap();
        (p.state().to_vec(), s.reward)
    };
    assert_eq!(run(5.0, &mut obs), run(2.0, &mut obs));
    assert_eq!(run(-7.0, &mut obs), run(-2.0, &mut obs));
    assert_ne!(run(1.0, &mut obs), run(2.0, &mut obs));
}

#[test]
fn mountain_car_continuous_clips_the_dynamics_but_penalises_the_raw_action() {
    let mut obs = [0.0f32; 2];
    let run = |u: f32, obs: &mut [f32; 2]| {
        let mut m = MountainCarContinuous::new();
        m.reset(Some(0), obs).unwrap();
        let s = m.step(Action::Continuous(&[u]), obs).unwrap();
        (m.state().to_vec(), s.reward)
    };
    let (s1, r1) = run(1.0, &mut obs);
    let (s3, r3) = run(3.0, &mut obs);
    assert_eq!(s1, s3, "the dynamics see the clipped action");
    assert!(
        (r1 + 0.1).abs() < 1e-12 && (r3 + 0.9).abs() < 1e-6,
        "{r1} {r3}"
    );
}

#[test]
fn snapshot_restore_continues_bit_exactly_through_resets() {
    for id in IDS {
        let mut env = envs::make(id).unwrap();
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(3), &mut obs).unwrap();
        for t in 0..37 {
            if step_t(&mut *env, t, &mut obs).unwrap().done() {
                env.reset(None, &mut obs).unwrap();
            }
        }
        let snap = env.snapshot();
        let bytes = snap.to_bytes();
        let tail_a = rollout_from_here(&mut *env, &mut obs, 700);
        // Restore into a fresh env, through the byte encoding.
        let mut fresh = envs::make(id).unwrap();
        fresh
            .restore(&EnvSnapshot::from_bytes(&bytes).unwrap())
            .unwrap();
        let mut obs_b = obs.clone();
        let tail_b = rollout_from_here(&mut *fresh, &mut obs_b, 700);
        assert_eq!(tail_a, tail_b, "{id}: restored env diverged");
        assert_eq!(EnvSnapshot::from_bytes(&bytes).unwrap(), snap);
    }
}

/// Steps from the current state, resetting (unseeded) at episode ends.
fn rollout_from_here(env: &mut dyn Env, obs: &mut [f32], steps: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for t in 0..steps {
        let s = step_t(env, t, obs).unwrap();
        out.extend(obs.iter().map(|v| v.to_bits() as u64));
        out.push(s.reward.to_bits());
        if s.done() {
            env.reset(None, obs).unwrap();
            out.extend(obs.iter().map(|v| v.to_bits() as u64));
        }
    }
    out
}

#[test]
fn damaged_or_foreign_snapshots_are_errors_not_panics() {
    let mut env = envs::make("Acrobot-v1").unwrap();
    let mut obs = [0.0f32; 6];
    env.reset(Some(1), &mut obs).unwrap();
    let bytes = env.snapshot().to_bytes();
    for len in 0..bytes.len() {
        assert!(
            EnvSnapshot::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len} bytes accepted"
        );
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(EnvSnapshot::from_bytes(&extra).is_err());
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert!(
        EnvSnapshot::from_bytes(&magic)
            .unwrap_err()
            .to_string()
            .contains("magic")
    );
    // Acrobot's snapshot does not fit CartPole.
    let mut cp = envs::make("CartPole-v1").unwrap();
    let e = cp.restore(&env.snapshot()).unwrap_err();
    assert!(e.to_string().contains("Acrobot-v1"), "{e}");
    // A snapshot of the unwrapped env lacks the step count the time limit needs.
    let raw = envs::spec("Acrobot-v1")
        .unwrap()
        .make_unlimited()
        .snapshot();
    assert!(env.restore(&raw).is_err());
}

/// Checks that every element of an SVG document is closed, in order (a small XML well-formedness
/// check: tags nest, attribute values are quoted, no stray `<`).
fn assert_well_formed(svg: &str, what: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .unwrap_or_else(|| panic!("{what}: unclosed '<'"))
            + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "{what}: '<' inside a tag: {tag}");
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "{what}: unbalanced quotes in <{tag}>"
        );
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop(),
                Some(name),
                "{what}: </{name}> closes the wrong element"
            );
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap());
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "{what}: unclosed elements {stack:?}");
}

#[test]
fn renderings_show_the_state() {
    let mut obs = [0.0f32; 4];
    let mut env = envs::make("CartPole-v1").unwrap();
    env.reset(Some(0), &mut obs).unwrap();
    env.set_state(&[1.2, 0.0, 0.1, 0.0]).unwrap();
    let text = env.render_text();
    assert!(
        text.contains("CartPole-v1") && text.contains("x=+1.200"),
        "{text}"
    );
    let svg = env.render_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // Cart centre at 1.2 m: 1.2 * 125 + 300 = 450 px, so its left edge is at 425.
    assert!(svg.contains("x=\"425.00\""), "{svg}");
    assert!(
        svg.contains("rotate(5.730)"),
        "pole angle 0.1 rad = 5.730°: {svg}"
    );
    for id in IDS {
        let mut e = envs::make(id).unwrap();
        let mut o = vec![0.0f32; e.obs_dim()];
        e.reset(Some(0), &mut o).unwrap();
        let s = e.render_svg();
        assert_well_formed(&s, id);
        assert_eq!(s.matches("<svg").count(), 1, "{id}");
        assert!(s.len() > 200 && e.render_text().lines().count() > 3, "{id}");
    }
}

#[test]
fn an_animated_episode_has_one_frame_per_step_and_loops() {
    for (id, fps) in [
        ("CartPole-v1", 50.0),
        ("Acrobot-v1", 15.0),
        ("MountainCar-v0", 30.0),
        ("Pendulum-v1", 30.0),
    ] {
        let mut env = envs::make(id).unwrap();
        let mut obs = vec![0.0f32; env.obs_dim()];
        env.reset(Some(0), &mut obs).unwrap();
        let mut movie = envs::render::EpisodeSvg::new(fps);
        movie.push(&*env);
        let mut frames = 1;
        for t in 0..30 {
            let s = step_t(&mut *env, t, &mut obs).unwrap();
            movie.push(&*env);
            frames += 1;
            if s.done() {
                break;
            }
        }
        let svg = movie.finish();
        assert_well_formed(&svg, id);
        assert_eq!(svg.matches("<animate ").count(), frames, "{id}");
        assert_eq!(
            svg.matches("repeatCount=\"indefinite\"").count(),
            frames,
            "{id}"
        );
        let dur = format!("dur=\"{}s\"", frames as f64 / fps);
        assert!(svg.contains(&dur), "{id}: expected {dur}");
    }
}
