//! Writes one SVG frame of an env in a given physical state (default: a fresh reset).
//!
//! ```text
//! cargo run -p envs --example frame_svg -- Acrobot-v1 acrobot.svg 1.0 0.5 0 0
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: frame_svg <env id> <out.svg> [state components...]");
        std::process::exit(2);
    }
    let mut env = envs::make(&args[1])?;
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset(Some(0), &mut obs)?;
    let state = args[3..]
        .iter()
        .map(|s| s.parse::<f64>())
        .collect::<Result<Vec<_>, _>>()?;
    if !state.is_empty() {
        env.set_state(&state)?;
    }
    std::fs::write(&args[2], env.render_svg())?;
    print!("{}", env.render_text());
    Ok(())
}
