//! Small SVG writers and the animated-episode recorder.
//!
//! A frame is a string of SVG elements (an env's [`crate::Env::svg_body`]). An animated episode
//! stacks the frames as `<g>` groups and shows one at a time with a discrete SMIL `<animate>` of
//! the `display` attribute, looping forever; any browser plays it without scripts.

use crate::env::Env;
use std::fmt::Write;

/// A complete SVG document of the given size around `body`, on a white background.
pub fn document(width: f64, height: f64, body: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n{body}\n</svg>\n"
    )
}

/// A straight line.
pub fn line(x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) -> String {
    format!(
        "<line x1=\"{x1:.2}\" y1=\"{y1:.2}\" x2=\"{x2:.2}\" y2=\"{y2:.2}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>"
    )
}

/// A filled axis-aligned rectangle with its top-left corner at `(x, y)`.
pub fn rect(x: f64, y: f64, w: f64, h: f64, fill: &str) -> String {
    format!("<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"{fill}\"/>")
}

/// A filled circle.
pub fn circle(cx: f64, cy: f64, r: f64, fill: &str) -> String {
    format!("<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r:.2}\" fill=\"{fill}\"/>")
}

/// A filled polygon through `points`.
pub fn polygon(points: &[(f64, f64)], fill: &str) -> String {
    let mut p = String::new();
    for (x, y) in points {
        let _ = write!(p, "{x:.2},{y:.2} ");
    }
    format!("<polygon points=\"{}\" fill=\"{fill}\"/>", p.trim_end())
}

/// An open polyline through `points`.
pub fn polyline(points: &[(f64, f64)], stroke: &str, width: f64) -> String {
    let mut p = String::new();
    for (x, y) in points {
        let _ = write!(p, "{x:.2},{y:.2} ");
    }
    format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
        p.trim_end()
    )
}

/// Escape `&`, `<` and `>` for SVG text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Lines of monospace text starting at `(x, y)`, 16 units apart.
pub fn text_block(text: &str, x: f64, y: f64) -> String {
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{}\" font-family=\"monospace\" font-size=\"13\" xml:space=\"preserve\">{}</text>",
            y + 16.0 * i as f64,
            escape(l)
        );
    }
    out
}

/// Records one frame per call and writes an animated SVG of the whole episode.
///
/// ```
/// use envs::{Action, Env, render::EpisodeSvg};
/// let mut env = envs::make("CartPole-v1").unwrap();
/// let mut obs = [0.0f32; 4];
/// env.reset(Some(1), &mut obs).unwrap();
/// let mut movie = EpisodeSvg::new(50.0);
/// movie.push(&*env);
/// for t in 0..10 {
///     env.step(Action::Discrete(t % 2), &mut obs).unwrap();
///     movie.push(&*env);
/// }
/// let svg = movie.finish();
/// assert_eq!(svg.matches("<g ").count(), 11);
/// ```
#[derive(Debug, Clone)]
pub struct EpisodeSvg {
    fps: f64,
    size: (f64, f64),
    frames: Vec<String>,
}

impl EpisodeSvg {
    /// An empty recording played back at `fps` frames per second (Gymnasium's `render_fps`:
    /// CartPole 50, Acrobot 15, MountainCar 30, Pendulum 30).
    pub fn new(fps: f64) -> Self {
        assert!(
            fps > 0.0 && fps.is_finite(),
            "fps must be a positive finite number, got {fps}"
        );
        Self {
            fps,
            size: (0.0, 0.0),
            frames: Vec::new(),
        }
    }

    /// Add the env's current picture as the next frame.
    pub fn push(&mut self, env: &dyn Env) {
        self.size = env.svg_size();
        self.frames.push(env.svg_body());
    }

    /// Number of frames recorded.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame was recorded.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The animated SVG document: frame `i` is shown during `[i/fps, (i+1)/fps)`, then it loops.
    pub fn finish(&self) -> String {
        let n = self.frames.len().max(1);
        let dur = n as f64 / self.fps;
        let mut body = String::new();
        for (i, f) in self.frames.iter().enumerate() {
            // Discrete keyTimes: hidden, shown from i/n, hidden again from (i+1)/n.
            let (values, times) = if n == 1 {
                ("inline".to_string(), "0".to_string())
            } else if i == 0 {
                ("inline;none".to_string(), format!("0;{}", 1.0 / n as f64))
            } else if i + 1 == n {
                (
                    "none;inline".to_string(),
                    format!("0;{}", i as f64 / n as f64),
                )
            } else {
                (
                    "none;inline;none".to_string(),
                    format!("0;{};{}", i as f64 / n as f64, (i + 1) as f64 / n as f64),
                )
            };
            let _ = write!(
                body,
                "<g display=\"{}\">\n<animate attributeName=\"display\" values=\"{values}\" keyTimes=\"{times}\" \
                 dur=\"{dur}s\" calcMode=\"discrete\" repeatCount=\"indefinite\"/>\n{f}\n</g>\n",
                if i == 0 { "inline" } else { "none" }
            );
        }
        document(self.size.0, self.size.1, &body)
    }
}
