//! VecEnv: seeding, same-step autoreset with final observations, error atomicity, snapshots.

use envs::{Action, Env, EnvError, VecAction, VecEnv, VecEnvSnapshot};

#[test]
fn copy_i_is_seeded_with_seed_plus_i() {
    let mut v = VecEnv::new("Acrobot-v1", 4).unwrap();
    v.reset(10);
    assert_eq!(v.action_space(), envs::Space::Discrete { n: 3 });
    for row in v.obs().chunks(6) {
        assert!(v.observation_space().contains(row));
    }
    for i in 0..4 {
        let mut env = envs::make("Acrobot-v1").unwrap();
        let mut obs = [0.0f32; 6];
        env.reset(Some(10 + i as u64), &mut obs).unwrap();
        assert_eq!(&v.obs()[i * 6..(i + 1) * 6], &obs, "copy {i}");
    }
}

/// Steps N single envs by hand, with the same rules, and compares every buffer of the VecEnv.
#[test]
fn same_step_autoreset_matches_single_envs_stepped_by_hand() {
    for id in ["CartPole-v1", "MountainCar-v0", "Pendulum-v1"] {
        let n = 5;
        let mut v = VecEnv::new(id, n).unwrap();
        v.reset(100);
        let mut singles: Vec<Box<dyn Env>> = (0..n).map(|_| envs::make(id).unwrap()).collect();
        let d = v.obs_dim();
        let mut obs = vec![0.0f32; n * d];
        for (i, e) in singles.iter_mut().enumerate() {
            e.reset(Some(100 + i as u64), &mut obs[i * d..(i + 1) * d])
                .unwrap();
        }
        let mut ends = 0;
        for t in 0..450 {
            let disc: Vec<usize> = (0..n).map(|i| (t * 3 + i * 7 + t / 5) % 2).collect();
            let cont: Vec<f32> = (0..n).map(|i| ((t + i) % 9) as f32 * 0.5 - 2.0).collect();
            if id == "Pendulum-v1" {
                v.step(VecAction::Continuous(&cont)).unwrap();
            } else {
                v.step(VecAction::Discrete(&disc)).unwrap();
            }
            for i in 0..n {
                let row = &mut obs[i * d..(i + 1) * d];
                let a = if id == "Pendulum-v1" {
                    Action::Continuous(&cont[i..i + 1])
                } else {
                    Action::Discrete(disc[i])
                };
                let s = singles[i].step(a, row).unwrap();
                assert_eq!(v.rewards()[i], s.reward, "{id} t={t} copy {i}");
                assert_eq!(
                    (v.terminated()[i], v.truncated()[i]),
                    (s.terminated, s.truncated)
                );
                if s.done() {
                    ends += 1;
                    assert_eq!(v.final_obs(i), Some(&*row), "{id} t={t}: final observation");
                    singles[i].reset(None, row).unwrap();
                } else {
                    assert_eq!(v.final_obs(i), None);
                }
            }
            assert_eq!(
                v.obs(),
                &obs[..],
                "{id} t={t}: observations (next episode's first for finished copies)"
            );
        }
        assert!(ends >= n, "{id}: only {ends} episodes ended");
    }
}

#[test]
fn truncation_in_a_vector_keeps_the_last_observation_for_bootstrapping() {
    let mut v = VecEnv::new("Pendulum-v1", 2).unwrap();
    v.reset(0);
    let actions = [0.3f32, -0.3];
    for _ in 0..199 {
        v.step(VecAction::Continuous(&actions)).unwrap();
        assert!(v.truncated().iter().all(|t| !t));
    }
    let before_last: Vec<f32> = v.obs().to_vec();
    v.step(VecAction::Continuous(&actions)).unwrap();
    assert!(v.truncated().iter().all(|&t| t) && v.terminated().iter().all(|&t| !t));
    for i in 0..2 {
        let last = v.final_obs(i).unwrap();
        assert_ne!(
            last,
            &before_last[i * 3..(i + 1) * 3],
            "the final obs is after the last step"
        );
        assert_ne!(
            last,
            &v.obs()[i * 3..(i + 1) * 3],
            "the row already holds the next episode"
        );
    }
    v.step(VecAction::Continuous(&actions)).unwrap();
    assert!(v.final_obs(0).is_none() && v.truncated().iter().all(|t| !t));
}

#[test]
fn bad_actions_are_rejected_before_any_copy_moves() {
    let mut v = VecEnv::new("CartPole-v1", 3).unwrap();
    assert!(matches!(
        v.step(VecAction::Discrete(&[0, 0, 0])),
        Err(EnvError::NeedsReset { .. })
    ));
    v.reset(0);
    let obs = v.obs().to_vec();
    let e = v.step(VecAction::Discrete(&[0, 1, 2])).unwrap_err();
    assert!(
        e.to_string().contains("2 (copy 2)") && e.to_string().contains("0..2"),
        "{e}"
    );
    assert!(matches!(
        v.step(VecAction::Discrete(&[0, 1])),
        Err(EnvError::BadBufferLength {
            got: 2,
            expected: 3,
            ..
        })
    ));
    assert!(matches!(
        v.step(VecAction::Continuous(&[0.0; 3])),
        Err(EnvError::InvalidAction { .. })
    ));
    assert_eq!(v.obs(), &obs[..], "a rejected step moved a copy");
    let mut p = VecEnv::new("Pendulum-v1", 2).unwrap();
    p.reset(0);
    let e = p.step(VecAction::Continuous(&[0.0, f32::NAN])).unwrap_err();
    assert!(matches!(e, EnvError::InvalidAction { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("Pendulum-v1") && msg.contains("NaN (copy 1") && msg.contains("[-2, 2]"),
        "{msg}"
    );
    assert!(matches!(
        p.step(VecAction::Continuous(&[0.0])),
        Err(EnvError::BadBufferLength { .. })
    ));
    assert!(matches!(
        VecEnv::new("CartPole-v1", 0),
        Err(EnvError::EmptyVecEnv { .. })
    ));
    assert!(matches!(
        VecEnv::new("Nope-v0", 2),
        Err(EnvError::UnknownId { .. })
    ));
    let mixed = vec![
        envs::make("CartPole-v1").unwrap(),
        envs::make("Acrobot-v1").unwrap(),
    ];
    assert!(matches!(
        VecEnv::from_envs(mixed),
        Err(EnvError::MixedVecEnv { .. })
    ));
}

#[test]
fn vector_snapshots_resume_bit_exactly_through_bytes() {
    let n = 4;
    let mut v = VecEnv::new("MountainCarContinuous-v0", n).unwrap();
    v.reset(42);
    let act = |t: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((t * 7 + i * 3) % 11) as f32 - 5.0) / 3.0)
            .collect()
    };
    for t in 0..1500 {
        v.step(VecAction::Continuous(&act(t))).unwrap();
    }
    let bytes = v.snapshot().to_bytes();
    let run = |v: &mut VecEnv| -> Vec<u64> {
        let mut out = Vec::new();
        for t in 1500..2600 {
            v.step(VecAction::Continuous(&act(t))).unwrap();
            out.extend(v.obs().iter().map(|x| x.to_bits() as u64));
            out.extend(v.rewards().iter().map(|r| r.to_bits()));
        }
        out
    };
    let a = run(&mut v);
    let mut w = VecEnv::new("MountainCarContinuous-v0", n).unwrap();
    w.restore(&VecEnvSnapshot::from_bytes(&bytes).unwrap())
        .unwrap();
    assert_eq!(a, run(&mut w));
    for len in (0..bytes.len()).step_by(7) {
        assert!(
            VecEnvSnapshot::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len} accepted"
        );
    }
    let mut other = VecEnv::new("MountainCarContinuous-v0", n + 1).unwrap();
    assert!(
        other
            .restore(&VecEnvSnapshot::from_bytes(&bytes).unwrap())
            .is_err()
    );
}
