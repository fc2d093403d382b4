//! Every key of every run configuration (`pg train`, `pg lm pretrain`, `pg lm rl`,
//! `pg lm reward`), set to a
//! value other than the preset's, is written to `config.toml` as the user wrote it and read back
//! unchanged; renamed keys are still read under their old names.

use policy_gradient::config::Config;
use policy_gradient::lm::config::{PRETRAIN_ADDED, PretrainConfig, RewardConfig, RlConfig};
use policy_gradient::run::config::RunConfig;

/// Values tried for a key holding a word (an enum): the first accepted one that differs from the
/// preset's is used.
const WORDS: &[&str] = &[
    "reinforce",
    "reward_to_go",
    "vpg",
    "rloo",
    "grpo",
    "relu",
    "tanh",
    "constant",
    "linear",
    "none",
    "batch_mean",
    "k1_reward",
    "k3_loss",
    "pg",
    "ppo",
    "sgd",
    "adam",
    "sequence",
    "token",
    "transformer",
];

/// `--set` texts for `key` that differ from `current` and that a user could write.
fn candidates(key: &str, current: &toml::Value) -> Vec<String> {
    match current {
        toml::Value::Float(_) => vec!["0.37".into(), "0.9".into()],
        toml::Value::Integer(i) => vec![(i + 1).to_string(), (i - 1).to_string()],
        toml::Value::Boolean(b) => vec![(!b).to_string()],
        toml::Value::Array(_) => vec!["[7, 5]".into()],
        toml::Value::String(s) if key == "reference" || key == "policy" => {
            vec![format!("\"{s}-other\"")]
        }
        toml::Value::String(_) if key == "reward" => vec!["\"model:runs/rm\"".into()],
        toml::Value::String(_) => WORDS.iter().map(|w| w.to_string()).collect(),
        other => panic!("{key}: no candidate for {other:?}"),
    }
}

fn round_trip_every_key<C: RunConfig + std::fmt::Debug>(preset: C) {
    let table = toml::Table::try_from(&preset).unwrap();
    for key in C::KEYS {
        if *key == C::SUBJECT_KEY {
            continue;
        }
        let current = &table[*key];
        let changed = candidates(key, current).into_iter().find_map(|text| {
            let c = preset.apply_sets(&[format!("{key}={text}")]).ok()?;
            (c != preset).then_some((c, text))
        });
        let (c, text) = changed.unwrap_or_else(|| panic!("{key}: no other valid value found"));
        let saved = c.to_toml();
        let again = C::from_toml(&saved, "config.toml").unwrap();
        assert_eq!(again, c, "{key}: read, written and read again");
        assert_eq!(again.to_toml(), saved, "{key}: written twice the same");
        // A bare word is a string, which TOML writes quoted.
        let written = if toml::from_str::<toml::Table>(&format!("v = {text}")).is_ok() {
            text
        } else {
            format!("\"{text}\"")
        };
        let line = format!("{key} = {written}\n");
        assert!(saved.contains(&line), "{key}: `{line}` not in\n{saved}");
    }
}

#[test]
fn every_key_of_every_configuration_round_trips_as_written() {
    round_trip_every_key(Config::preset("CartPole-v1").unwrap());
    round_trip_every_key(Config::preset("Pendulum-v1").unwrap());
    round_trip_every_key(Config::preset_named("CartPole-v1", "reinforce").unwrap());
    round_trip_every_key(PretrainConfig::preset("addition").unwrap());
    round_trip_every_key(RlConfig::preset("reviews").unwrap());
    round_trip_every_key(RewardConfig::preset("dialogue").unwrap());
}

#[test]
fn presets_are_saved_as_written_in_the_source() {
    let saved = Config::preset("CartPole-v1").unwrap().to_toml();
    for line in ["gamma = 0.99\n", "lr = 0.003\n", "value_lr = 0.002\n"] {
        assert!(saved.contains(line), "`{line}` not in\n{saved}");
    }
    assert!(!saved.contains("0.9900000095367432"), "{saved}");
}

#[test]
fn any_u64_seed_is_a_seed() {
    let big = u64::MAX - 1;
    let c = Config::preset("CartPole-v1")
        .unwrap()
        .apply_sets(&[format!("seed={big}")])
        .unwrap();
    assert_eq!(c.seed, big);
    assert_eq!(Config::from_toml(&c.to_toml(), "config.toml").unwrap(), c);
    let r = RlConfig::preset("addition")
        .unwrap()
        .apply_sets(&["seed=9223372036854775808".into()])
        .unwrap();
    assert_eq!(r.seed, 1 << 63);
    assert_eq!(RlConfig::from_toml(&r.to_toml(), "config.toml").unwrap(), r);
}

#[test]
fn renamed_keys_are_read_under_their_old_names() {
    let c = Config::preset("CartPole-v1").unwrap();
    let old = c.to_toml().replace("\nlr = ", "\npolicy_lr = ");
    assert_eq!(Config::from_toml(&old, "old config.toml").unwrap(), c);
    assert_eq!(c.apply_sets(&["policy_lr=0.5".into()]).unwrap().lr, 0.5);
    let r = RlConfig::preset("addition").unwrap();
    let old = r.to_toml().replace("estimator = ", "algo = ");
    assert_eq!(RlConfig::from_toml(&old, "old config.toml").unwrap(), r);
    // A saved pretraining config from before the added keys existed (`checkpoint_every`, the
    // transformer's) takes the preset's: an MLP.
    let p = PretrainConfig::preset("addition").unwrap();
    let old: String = p
        .to_toml()
        .lines()
        .filter(|l| {
            !PRETRAIN_ADDED
                .iter()
                .any(|k| l.starts_with(&format!("{k} = ")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!old.contains("model") && !old.contains("width"), "{old}");
    assert_eq!(PretrainConfig::from_toml(&old, "old").unwrap(), p);
}

#[test]
fn a_config_saved_before_evaluation_existed_loads_with_it_off() {
    use policy_gradient::config::EVAL_KEYS;
    let c = Config::preset("CartPole-v1").unwrap();
    let old: String = c
        .to_toml()
        .lines()
        .filter(|l| !EVAL_KEYS.iter().any(|k| l.starts_with(&format!("{k} ="))))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!old.contains("eval_every"));
    let back = Config::from_toml(&old, "old config.toml").unwrap();
    assert_eq!(back, c);
    assert_eq!((back.eval_every, back.keep_checkpoints), (0, 0));
}
