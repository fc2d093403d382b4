//! Properties over random states and actions (proptest, 64 cases each): the physics stays inside
//! Gymnasium's bounds and observations inside the observation space.

use envs::Action;
use envs::classic_control::{acrobot, mountain_car, mountain_car_continuous, pendulum};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn acrobot_angles_wrap_and_velocities_stay_bounded(
        s in prop::array::uniform4(-30.0f64..30.0), a in 0usize..3,
    ) {
        let (n, _) = acrobot::transition(&s, a);
        prop_assert!(n[0].abs() <= std::f64::consts::PI && n[1].abs() <= std::f64::consts::PI, "{n:?}");
        prop_assert!(n[2].abs() <= acrobot::MAX_VEL_1 && n[3].abs() <= acrobot::MAX_VEL_2, "{n:?}");
        let mut env = envs::make("Acrobot-v1").unwrap();
        let mut obs = [0.0f32; 6];
        env.reset(Some(0), &mut obs).unwrap();
        env.set_state(&s).unwrap();
        env.step(Action::Discrete(a), &mut obs).unwrap();
        prop_assert!(env.observation_space().contains(&obs), "{obs:?}");
    }

    #[test]
    fn mountain_cars_stay_on_the_track(
        x in -1.2f64..0.6, v in -0.07f64..0.07, a in 0usize..3, u in -3.0f32..3.0,
    ) {
        let (n, _) = mountain_car::transition(&[x, v], a);
        prop_assert!((-1.2..=0.6).contains(&n[0]) && n[1].abs() <= 0.07, "{n:?}");
        if n[0] == -1.2 { prop_assert!(n[1] >= 0.0, "the wall must stop the car"); }
        for f64_state in [true, false] {
            let s = if f64_state { [x, 0.0] } else { [x as f32 as f64, v as f32 as f64] };
            let (n, r, done) = mountain_car_continuous::transition(&s, f64_state, u);
            prop_assert!((-1.2f32..=0.6).contains(&(n[0] as f32)) && (n[1] as f32).abs() <= 0.07f32, "{n:?}");
            prop_assert!(n[0] as f32 as f64 == n[0] && n[1] as f32 as f64 == n[1], "state must be f32");
            let penalty = (u as f64) * (u as f64) * 0.1; // Gymnasium's order: u² · 0.1
            prop_assert_eq!(r, if done { 100.0 } else { 0.0 } - penalty);
        }
    }

    #[test]
    fn pendulum_speed_is_bounded_and_the_cost_is_never_negative(
        th in -50.0f64..50.0, thdot in -8.0f64..8.0, u in -4.0f32..4.0,
    ) {
        let (n, r) = pendulum::transition(&[th, thdot], u);
        prop_assert!(n[1].abs() <= pendulum::MAX_SPEED, "{n:?}");
        prop_assert!(r <= 0.0);
        // The largest cost: π² + 0.1·8² + 0.001·2².
        let max_cost = std::f64::consts::PI.powi(2) + 6.4 + 0.004;
        prop_assert!(-r <= max_cost + 1e-9, "{r}");
        let an = pendulum::angle_normalize(th);
        prop_assert!((-std::f64::consts::PI..std::f64::consts::PI).contains(&an), "{an}");
        prop_assert!(((an - th) / (2.0 * std::f64::consts::PI)).fract().abs() < 1e-9
            || (1.0 - ((an - th) / (2.0 * std::f64::consts::PI)).fract().abs()) < 1e-9);
    }
}
