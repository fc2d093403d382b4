//! Pretraining the GPT (`policy_gradient::lm::gpt`) on a token task by maximum likelihood, and
//! its held-out accuracy: the transformer's side of the MLP-against-transformer comparison
//! until `pg lm pretrain --set model=transformer` exists.
//!
//! Each step draws `batch` training prompts and the task's (noisy) demonstrations, lays them out
//! as padded rows ([`SeqBatch`]), and takes one clipped Adam step on the mean negative
//! log-likelihood of the completion tokens, with the learning rate decayed linearly to 0, as
//! `pg lm pretrain` does for the MLP. The held-out set is `pg lm`'s (same prompts, same seed),
//! sampled with the key-value cache at temperature 1 and greedily.
//!
//! Run: `cargo run --release -p policy-gradient --example gpt_pretrain -- TASK STEPS WIDTH LAYERS
//! HEADS LR SEED` (defaults: `reverse 3000 64 2 4 0.001 0`).

use autograd::{Tape, Tensor};
use dense::optim::{Adam, AdamConfig};
use policy_gradient::lm::eval::evaluate_with;
use policy_gradient::lm::gpt::batch::SeqBatch;
use policy_gradient::lm::gpt::train::weighted_nll_gradients;
use policy_gradient::lm::gpt::{Gpt, GptSpec, cache};
use policy_gradient::lm::run::{EVAL_PROMPT_SEED, make_task, stream_rng};
use policy_gradient::run::schedule::LrSchedule;
use policy_gradient::run::update::clip_and_step;
use std::time::Instant;

const BATCH: usize = 128;
const EVAL_PROMPTS: usize = 500;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    match args.get(i) {
        None => default,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("argument {i}: cannot read {s:?}");
            std::process::exit(2)
        }),
    }
}

fn main() -> policy_gradient::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task_id: String = arg(&args, 0, "reverse".to_string());
    let steps: u64 = arg(&args, 1, 3000);
    let (width, layers, heads) = (arg(&args, 2, 64), arg(&args, 3, 2), arg(&args, 4, 4));
    let (lr, seed): (f32, u64) = (arg(&args, 5, 1e-3), arg(&args, 6, 0));
    let task = make_task(&task_id)?;
    let mut scan = stream_rng(seed, 9);
    let longest_prompt = (0..1000)
        .map(|_| {
            task.sample_prompt(envs::tokens::Split::Train, &mut scan)
                .len()
        })
        .max()
        .unwrap_or(0);
    let spec = GptSpec {
        vocab: task.vocab().len(),
        // Room for the longest prompt seen and the longest completion, rounded up to 8.
        context: (longest_prompt + task.max_completion_len()).div_ceil(8) * 8,
        width,
        heads,
        layers,
    };
    spec.validate("the command line")?;
    let mut model = Gpt::<f32>::new(spec, &mut stream_rng(seed, 0));
    println!(
        "{}: {spec:?}, {} parameters",
        task.describe(),
        spec.num_params()
    );
    let mut adam = Adam::new(AdamConfig {
        lr,
        ..AdamConfig::default()
    });
    let (mut tape, mut grads) = (Tape::new(), vec![Tensor::empty(); model.params().len()]);
    let (mut data_rng, mut eval_rng) = (stream_rng(seed, 1), stream_rng(seed, 2));
    let mut batch = SeqBatch::default();
    let clock = Instant::now();
    for step in 1..=steps {
        batch.clear();
        for _ in 0..BATCH {
            let prompt = task.sample_prompt(envs::tokens::Split::Train, &mut data_rng);
            let demo = task.demonstration(&prompt, &mut data_rng);
            batch.push(&prompt, &demo);
        }
        let weights = batch.nll_weights();
        let loss = weighted_nll_gradients(
            &mut model,
            &mut tape,
            batch.tokens(),
            batch.batch(),
            batch.targets(),
            &weights,
            &mut grads,
        );
        let rate = LrSchedule::Linear.rate(lr, step - 1, steps);
        clip_and_step(&mut adam, model.params_mut(), &mut grads, 1.0, rate);
        if step % 500 == 0 || step == steps {
            println!(
                "step {step:>5}  loss {loss:.4}  {:.0} s",
                clock.elapsed().as_secs_f64()
            );
        }
    }
    let train_seconds = clock.elapsed().as_secs_f64();
    let prompts = task.held_out_prompts(EVAL_PROMPTS, EVAL_PROMPT_SEED);
    let sample = |p: &[Vec<usize>], t: f32, r: &mut _| cache::generate(&model, &*task, p, t, r);
    let e = evaluate_with(sample, &*task, &prompts, &mut eval_rng);
    println!(
        "held-out accuracy {:.3} (greedy {:.3}) on {EVAL_PROMPTS} prompts; {steps} steps of {BATCH} in {train_seconds:.0} s",
        e.accuracy, e.greedy_accuracy
    );
    // Sampled accuracy by prompt length: for `reverse`, the digit to copy lies up to 2n tokens
    // back for a string of n digits (prompt length n + 1).
    let mut by_len = std::collections::BTreeMap::<usize, (usize, usize)>::new();
    for c in &e.samples {
        let entry = by_len.entry(c.prompt.len()).or_default();
        entry.0 += usize::from(task.is_success(&c.prompt, &c.completion));
        entry.1 += 1;
    }
    let cells: Vec<String> = by_len
        .iter()
        .map(|(len, (ok, n))| format!("{len}: {:.2} of {n}", *ok as f64 / *n as f64))
        .collect();
    println!("sampled accuracy by prompt length: {}", cells.join(", "));
    Ok(())
}
