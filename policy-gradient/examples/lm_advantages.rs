//! Chapter 10 of the course (`docs/10-language-models.md`): the advantage estimators used to
//! fine-tune language models, side by side on one batch of rewards.
//!
//! A language model answering a prompt is a policy whose actions are tokens; the reward comes
//! once, for the whole completion. Every token of completion i is weighted by one advantage
//! A_i = r_i − b, and the estimators differ only in the baseline b
//! (`policy_gradient::lm::advantage`):
//!
//! - REINFORCE:         b = 0
//! - batch mean:        b = the mean reward of the whole batch
//! - RLOO (k per prompt): b = the mean reward of the *other* k − 1 completions of the same prompt
//! - GRPO (G per prompt): A_i = (r_i − group mean) / (group standard deviation + ε)
//!
//! The batch: three prompts, four sampled completions each, reward 1 for a correct answer.
//! Prompt 0 is easy (3 of 4 right), prompt 1 hard (1 of 4), prompt 2 always answered right.
//!
//! Run: `cargo run --release -p policy-gradient --example lm_advantages`

use policy_gradient::lm::advantage::{
    batch_mean_advantages, grpo_advantages, reinforce_advantages, rloo_advantages,
};

const PER_PROMPT: usize = 4;

fn main() {
    let rewards = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    let rows = [
        ("REINFORCE (b = 0)", reinforce_advantages(&rewards)),
        ("batch-mean baseline", batch_mean_advantages(&rewards)),
        ("RLOO, k = 4", rloo_advantages(&rewards, PER_PROMPT)),
        (
            "GRPO, G = 4, ε = 1e-4",
            grpo_advantages(&rewards, PER_PROMPT, 1e-4),
        ),
    ];
    print!("{:<24}", "completion (prompt.i)");
    for i in 0..rewards.len() {
        print!("{:>7}", format!("{}.{}", i / PER_PROMPT, i % PER_PROMPT));
    }
    print!("\n{:<24}", "reward r");
    for r in rewards {
        print!("{r:>7.0}");
    }
    println!();
    for (name, advantages) in &rows {
        print!("{name:<24}");
        for a in advantages {
            print!("{a:>7.3}");
        }
        let mean = advantages.iter().sum::<f64>() / advantages.len() as f64;
        println!("   mean {mean:+.3}");
    }
}
