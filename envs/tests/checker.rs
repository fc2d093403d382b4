//! `check_env` catches broken environments: a small counter env that can be told to misbehave in
//! one way at a time must fail with the matching `CheckError`, and pass when it behaves.

use envs::{Action, CheckError, Env, EnvError, EnvSnapshot, Space, Step, check_env, rng::RngState};

#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    None,
    ObsOutOfSpace,
    UnseededResetOutOfSpace,
    IgnoresSeed,
    EverySeedIsZero,
    NanReward,
    AcceptsBadAction,
    StepsAfterEnd,
    IgnoresObsLength,
    BlankRendering,
}

/// Counts to 10: the observation is the count divided by 10, the episode terminates at 10.
struct Counter {
    flaw: Flaw,
    count: u32,
    start: u32,
    resets: u32,
    /// The seed of the last seeded reset: the whole of this env's "reset generator".
    seed: u64,
    done: bool,
}

impl Counter {
    fn new(flaw: Flaw) -> Self {
        Self {
            flaw,
            count: 0,
            start: 0,
            resets: 0,
            seed: 0,
            done: true,
        }
    }
}

impl Env for Counter {
    fn id(&self) -> &'static str {
        "Counter-v0"
    }
    fn observation_space(&self) -> Space {
        Space::Box {
            low: vec![0.0],
            high: vec![1.0],
        }
    }
    fn action_space(&self) -> Space {
        Space::Discrete { n: 2 }
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn reset(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<(), EnvError> {
        if obs.len() != 1 && self.flaw != Flaw::IgnoresObsLength {
            return Err(EnvError::BadBufferLength {
                env: "Counter-v0",
                buffer: "observation",
                got: obs.len(),
                expected: 1,
            });
        }
        self.resets += 1;
        if let Some(s) = seed {
            self.seed = if self.flaw == Flaw::EverySeedIsZero {
                0
            } else {
                s
            };
        }
        self.start = match (self.flaw, seed) {
            (Flaw::IgnoresSeed, _) => self.resets % 3,
            (_, Some(_)) => (self.seed % 3) as u32,
            (_, None) => 0,
        };
        self.count = self.start;
        self.done = false;
        obs[0] = self.count as f32 / 10.0;
        if self.flaw == Flaw::UnseededResetOutOfSpace && seed.is_none() {
            obs[0] = -1.0;
        }
        Ok(())
    }
    fn step(&mut self, action: Action<'_>, obs: &mut [f32]) -> Result<Step, EnvError> {
        if obs.len() != 1 && self.flaw != Flaw::IgnoresObsLength {
            return Err(EnvError::BadBufferLength {
                env: "Counter-v0",
                buffer: "observation",
                got: obs.len(),
                expected: 1,
            });
        }
        if self.done && self.flaw != Flaw::StepsAfterEnd {
            return Err(EnvError::NeedsReset {
                env: "Counter-v0",
                reason: "after the end",
            });
        }
        let a = match action {
            Action::Discrete(a) if a < 2 || self.flaw == Flaw::AcceptsBadAction => a,
            other => {
                return Err(EnvError::InvalidAction {
                    env: "Counter-v0",
                    action: format!("{other:?}"),
                    expected: "0 or 1".into(),
                });
            }
        };
        self.count += 1;
        self.done = self.count >= 10;
        obs[0] = self.count as f32 / 10.0
            + if self.flaw == Flaw::ObsOutOfSpace {
                0.5
            } else {
                0.0
            };
        Ok(Step {
            reward: if self.flaw == Flaw::NanReward && self.count == 5 {
                f64::NAN
            } else {
                a as f64
            },
            terminated: self.done,
            truncated: false,
        })
    }
    fn render_text(&self) -> String {
        if self.flaw == Flaw::BlankRendering {
            String::new()
        } else {
            format!("count {}", self.count)
        }
    }
    fn snapshot(&self) -> EnvSnapshot {
        EnvSnapshot {
            id: "Counter-v0".into(),
            state: vec![self.count as f64, self.start as f64],
            aux: vec![],
            needs_reset: self.done,
            elapsed_steps: None,
            rng: RngState {
                seed: std::array::from_fn(|i| (self.seed >> (8 * (i % 8))) as u8),
                stream: 0,
                word_pos: 0,
            },
        }
    }
    fn restore(&mut self, s: &EnvSnapshot) -> Result<(), EnvError> {
        self.count = s.state[0] as u32;
        self.start = s.state[1] as u32;
        self.done = s.needs_reset;
        Ok(())
    }
}

#[test]
fn a_well_behaved_env_passes() {
    check_env(&mut Counter::new(Flaw::None)).unwrap();
    // The trait's defaults work for an env without physical state.
    let c = Counter::new(Flaw::None);
    assert!(c.state().is_empty() && c.render_svg().contains("count 0"));
}

#[test]
fn each_flaw_is_reported() {
    let cases = [
        (Flaw::ObsOutOfSpace, "out of space"),
        (Flaw::UnseededResetOutOfSpace, "out of space"),
        (Flaw::IgnoresSeed, "not deterministic"),
        (Flaw::EverySeedIsZero, "seed ignored"),
        (Flaw::NanReward, "non-finite reward"),
        (Flaw::AcceptsBadAction, "missing error"),
        (Flaw::StepsAfterEnd, "missing error"),
        (Flaw::IgnoresObsLength, "missing error"),
        (Flaw::BlankRendering, "bad rendering"),
    ];
    for (flaw, want) in cases {
        let err = check_env(&mut Counter::new(flaw)).unwrap_err();
        let got = match &err {
            CheckError::ObservationOutOfSpace { .. } => "out of space",
            CheckError::NotDeterministic { .. } => "not deterministic",
            CheckError::SeedIgnored { .. } => "seed ignored",
            CheckError::NonFiniteReward { .. } => "non-finite reward",
            CheckError::MissingError { .. } => "missing error",
            CheckError::BadRendering { .. } => "bad rendering",
            _ => "other",
        };
        assert_eq!(got, want, "{err}");
        assert!(err.to_string().contains("Counter-v0"), "{err}");
    }
    let err = check_env(&mut Counter::new(Flaw::UnseededResetOutOfSpace)).unwrap_err();
    assert!(
        matches!(
            err,
            CheckError::ObservationOutOfSpace {
                during: "reset without a seed",
                ..
            }
        ),
        "{err}"
    );
    // Stepping while waiting for a reset is caught even before any episode has ended.
    let err = check_env(&mut Counter::new(Flaw::StepsAfterEnd)).unwrap_err();
    assert!(
        matches!(
            err,
            CheckError::MissingError {
                case: "step while waiting for a reset",
                ..
            }
        ),
        "{err}"
    );
}
