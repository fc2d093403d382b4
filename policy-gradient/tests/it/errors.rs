//! Bad situations end in clear errors, never panics: a diverging run stops at the first
//! non-finite loss and keeps its last good checkpoint, which still loads and holds finite numbers.

use policy_gradient::PgError;
use policy_gradient::checkpoint;
use policy_gradient::config::Config;
use policy_gradient::run::{QUIET, train_new};

#[test]
fn non_finite_loss_stops_and_keeps_the_last_good_checkpoint() {
    let dir = std::env::temp_dir().join(format!("pg-test-{}-nan", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // An absurd value learning rate sends the value weights to infinity after the first update;
    // the next epoch's value loss is then not finite.
    let c = Config {
        num_envs: 2,
        steps_per_env: 20,
        hidden_sizes: vec![8],
        checkpoint_every: 1,
        value_lr: 1e38,
        value_iters: 1,
        max_grad_norm: 0.0,
        ..Config::preset("CartPole-v1").unwrap()
    };
    let e = train_new(c, &dir, &QUIET).unwrap_err();
    let PgError::NonFiniteLoss {
        at: epoch,
        unit: "epoch",
        what,
        checkpoint: Some(ckpt),
    } = &e
    else {
        panic!("expected a non-finite loss with a checkpoint, got {e}");
    };
    assert!(e.to_string().contains(&format!("epoch {epoch}")), "{e}");
    assert!(what.contains("loss") || what.contains("norm"), "{what}");
    // The metrics file holds exactly the epochs before the failure, and the kept checkpoint
    // (from the epoch before) loads.
    let rows = std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows as u64, epoch - 1);
    let t = checkpoint::load(ckpt, None).unwrap();
    assert_eq!(t.epochs_done(), epoch - 1);
    assert!(
        t.policy()
            .params()
            .iter()
            .all(|p| p.data().iter().all(|x| x.is_finite()))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
