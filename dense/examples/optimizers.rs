//! Chapter 4 of the course (`docs/04-layers-and-optimizers.md`): plain SGD, SGD with momentum and
//! Adam on one problem, with their paths drawn as an SVG.
//!
//! The problem is a long, narrow valley: f(x, y) = ½(x² + 25·y²), minimum at (0, 0). Its gradient
//! is ∇f = (x, 25·y): the walls (y) are 25 times steeper than the floor (x). That ratio, the
//! condition number, is what makes plain gradient descent slow: a learning rate small enough not
//! to bounce between the walls crawls along the floor.
//!
//! The three optimisers are `dense::optim`'s, the same code that trains the policies:
//! - SGD:      θ ← θ − lr·g
//! - momentum: b ← μ·b + g;  θ ← θ − lr·b   (b remembers the recent direction)
//! - Adam:     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂ / (√v̂ + ε)
//!   (m̂, v̂ are m, v corrected for starting at 0: each coordinate's step is scaled by the size of
//!   its own gradients, so the steep and the flat direction move at similar speeds)
//!
//! SGD is stable only while lr < 2/25 = 0.08 (the steep direction's factor 1 − 25·lr must stay
//! above −1): 0.075 is just inside, 0.085 just outside. The momentum settings are the heavy-ball
//! optimum for curvatures 1 and 25: lr = 4/(√25 + √1)² ≈ 0.11, μ = ((√25 − 1)/(√25 + 1))² ≈ 0.45.
//!
//! Run: `cargo run --release -p dense --example optimizers -- docs/figures/optimizers.svg`

use dense::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use std::fmt::Write;

const START: [f32; 2] = [-4.5, 1.0];
const STEPS: usize = 100;

/// f(x, y) = ½(x² + 25y²).
fn f(p: &[f32]) -> f32 {
    0.5 * (p[0] * p[0] + 25.0 * p[1] * p[1])
}

/// ∇f(x, y) = (x, 25y).
fn grad(p: &[f32]) -> Vec<f32> {
    vec![p[0], 25.0 * p[1]]
}

/// Runs `STEPS` steps of one optimiser from `START`; returns every point visited.
fn trajectory(mut step: impl FnMut(&mut [Vec<f32>], &[Vec<f32>])) -> Vec<[f32; 2]> {
    let mut params = vec![START.to_vec()];
    let mut path = vec![START];
    for _ in 0..STEPS {
        let g = vec![grad(&params[0])];
        step(&mut params, &g);
        path.push([params[0][0], params[0][1]]);
    }
    path
}

/// The contours of f, the three paths and a legend, as one SVG document.
fn svg(paths: &[(&str, &str, Vec<[f32; 2]>)]) -> String {
    let (w, h, scale) = (700.0, 400.0, 100.0); // 100 px per unit; x in [-5.5, 1.5], y in [-2, 2]
    let px = |p: [f32; 2]| (scale * (p[0] as f64 + 5.5), h / 2.0 - scale * p[1] as f64);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">"#
    );
    s.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    let (cx, cy) = px([0.0, 0.0]);
    for level in [0.5f64, 2.0, 4.5, 8.0, 12.5, 18.0] {
        let rx = (2.0 * level).sqrt() * scale; // x² + 25y² = 2·level
        let ry = (2.0 * level / 25.0).sqrt() * scale;
        let _ = write!(
            s,
            r##"<ellipse cx="{cx}" cy="{cy}" rx="{rx:.1}" ry="{ry:.1}" fill="none" stroke="#ccc"/>"##
        );
    }
    for (i, (name, color, path)) in paths.iter().enumerate() {
        let points: Vec<String> = path
            .iter()
            .map(|&p| {
                let (x, y) = px(p);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
            points.join(" ")
        );
        let y = 20.0 + 18.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="480" y1="{y}" x2="505" y2="{y}" stroke="{color}" stroke-width="3"/><text x="512" y="{:.0}">{name}</text>"#,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="10" y="{:.0}">f(x, y) = ½(x² + 25y²), {STEPS} steps from ({}, {}); grey: contours of f</text></svg>"#,
        h - 10.0,
        START[0],
        START[1]
    );
    s.push('\n');
    s
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "optimizers.svg".into());
    let sgd_config = |lr, momentum| SgdConfig {
        lr,
        momentum,
        ..SgdConfig::default()
    };
    let mut sgd = Sgd::new(sgd_config(0.075, 0.0));
    let mut too_fast = Sgd::new(sgd_config(0.085, 0.0));
    let mut momentum = Sgd::new(sgd_config(0.11, 0.45));
    let mut adam = Adam::new(AdamConfig {
        lr: 0.3,
        ..AdamConfig::default()
    });
    let paths = [
        (
            "SGD, lr 0.085",
            "#ff9896",
            trajectory(|p, g| too_fast.step(p, g)),
        ),
        (
            "SGD, lr 0.075",
            "#d62728",
            trajectory(|p, g| sgd.step(p, g)),
        ),
        (
            "momentum 0.45, lr 0.11",
            "#1f77b4",
            trajectory(|p, g| momentum.step(p, g)),
        ),
        (
            "Adam, lr 0.3",
            "#2ca02c",
            trajectory(|p, g| adam.step(p, g)),
        ),
    ];
    println!("f after k steps (start: f = {:.3})", f(&START));
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10}",
        "optimiser", "k = 10", "k = 25", "k = 50", "k = 100"
    );
    for (name, _, path) in &paths {
        let at = |k: usize| f(&path[k]);
        println!(
            "{name:<24} {:>10.2e} {:>10.2e} {:>10.2e} {:>10.2e}",
            at(10),
            at(25),
            at(50),
            at(100)
        );
    }
    std::fs::write(&out, svg(&paths)).unwrap_or_else(|e| panic!("cannot write {out}: {e}"));
    println!("paths drawn in {out}");
}
